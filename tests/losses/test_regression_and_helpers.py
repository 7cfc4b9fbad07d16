"""L1/L2 with masks against torch, and the numerically delicate helpers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from loss_inputs import make_inputs

from pixelwise.losses import CrossEntropyLoss, L1Loss, L2Loss
from pixelwise.losses._functional import log1m_softmax


def test_l1_l2_masked_match_torch_on_selected_elements() -> None:
    generator = torch.Generator().manual_seed(0)
    prediction = torch.randn(2, 3, 4, 5, generator=generator, requires_grad=True)
    target = torch.randn(2, 3, 4, 5, generator=generator)
    mask = torch.rand(2, 1, 4, 5, generator=generator) > 0.4
    keep = mask.expand_as(prediction)
    torch.testing.assert_close(
        L1Loss()(prediction, target, mask), F.l1_loss(prediction[keep], target[keep])
    )
    value = L2Loss()(prediction, target, mask)
    torch.testing.assert_close(value, F.mse_loss(prediction[keep], target[keep]))
    (grad,) = torch.autograd.grad(value, prediction)
    assert torch.all(grad[~keep] == 0)
    torch.testing.assert_close(L2Loss()(prediction, target), F.mse_loss(prediction, target))
    nothing = torch.zeros_like(mask)
    assert L1Loss()(prediction, target, nothing).item() == 0.0
    with pytest.raises(ValueError, match="same shape"):
        L1Loss()(prediction, target[:, :1])


def test_log1m_softmax_accurate_when_saturated() -> None:
    logits, _ = make_inputs(c=4, dtype=torch.float32, scale=30.0, seed=1)
    # Exact reference: log(1 - p_c) = logsumexp_{j != c} z_j - logsumexp_j z_j, in float64.
    z = logits.detach().double()
    others = [torch.cat([z[:, :c], z[:, c + 1 :]], 1).logsumexp(1) for c in range(z.shape[1])]
    reference = torch.stack(others, 1) - z.logsumexp(1, keepdim=True)
    ours = log1m_softmax(logits.detach())
    # Naive float32 log(1 - softmax) returns -inf where p rounds to 1; ours keeps all digits.
    assert torch.isinf(torch.log(1 - logits.detach().softmax(1))).any()
    torch.testing.assert_close(ours.double(), reference, rtol=1e-5, atol=1e-5)


def test_ignore_index_inside_class_range() -> None:
    logits, target = make_inputs(seed=2)
    ours = CrossEntropyLoss(ignore_index=0)(logits, target)
    torch.testing.assert_close(ours, F.cross_entropy(logits, target, ignore_index=0))
