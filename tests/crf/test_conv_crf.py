"""Trainable local-window CRF (ConvCRF, Teichmann and Cipolla 2018; CRF-as-RNN, Zheng 2015)."""

from __future__ import annotations

import math

import pytest
import torch
from synthetic import noisy_probs, region_image, region_labels

from pixelwise.crf import ConvCRF, conv_crf


def _reference_conv_crf(
    logits: torch.Tensor,
    image: torch.Tensor,
    kernel_size: int,
    iterations: int,
    thetas: tuple[float, float, float],
    weights: tuple[float, float],
    compatibility: torch.Tensor,
) -> torch.Tensor:
    """Pixel-by-pixel loops over the window, straight from the formula (no shifting tricks)."""
    alpha, beta, gamma = thetas
    _, num_classes, height, width = logits.shape
    pad = kernel_size // 2
    current = logits.clone()
    for _ in range(iterations):
        q = torch.softmax(current, dim=1)
        message = torch.zeros_like(logits)
        for y in range(height):
            for x in range(width):
                smooth, appear, neighbours = [], [], []
                for ny in range(max(0, y - pad), min(height, y + pad + 1)):
                    for nx in range(max(0, x - pad), min(width, x + pad + 1)):
                        if (ny, nx) == (y, x):
                            continue
                        distance = (ny - y) ** 2 + (nx - x) ** 2
                        colour = float(((image[0, :, y, x] - image[0, :, ny, nx]) ** 2).sum())
                        smooth.append(math.exp(-distance / (2 * gamma**2)))
                        appear.append(math.exp(-distance / (2 * alpha**2) - colour / (2 * beta**2)))
                        neighbours.append(q[0, :, ny, nx])
                for ks, ka, qn in zip(smooth, appear, neighbours):
                    combined = weights[0] * ks / sum(smooth) + weights[1] * ka / sum(appear)
                    message[0, :, y, x] += combined * qn
        current = logits - torch.einsum("lm,nmhw->nlhw", compatibility, message)
    return current


def test_conv_crf_matches_pixel_loop_reference() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 3, 5, 6, generator=generator, dtype=torch.float64)
    image = 255 * torch.rand(1, 3, 5, 6, generator=generator, dtype=torch.float64)
    compatibility = torch.rand(3, 3, generator=generator, dtype=torch.float64)
    kwargs = dict(thetas=(4.0, 30.0, 2.0), weights=(3.0, 10.0), compatibility=compatibility)
    expected = _reference_conv_crf(logits, image, 3, 2, **kwargs)
    out = conv_crf(
        logits,
        image,
        kernel_size=3,
        iterations=2,
        theta_alpha=4.0,
        theta_beta=30.0,
        theta_gamma=2.0,
        w_smoothness=3.0,
        w_appearance=10.0,
        compatibility=compatibility,
    )
    assert torch.allclose(out, expected, atol=1e-10)


def test_gradcheck_through_all_inputs_and_parameters() -> None:
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(1, 3, 3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    image = (50 * torch.rand(1, 3, 3, 4, generator=generator, dtype=torch.float64)).requires_grad_()
    log_thetas = torch.tensor([1.0, 3.0, 0.5], dtype=torch.float64, requires_grad=True)
    weights = torch.tensor([3.0, 10.0], dtype=torch.float64, requires_grad=True)
    compatibility = (1 - torch.eye(3, dtype=torch.float64)).requires_grad_()

    def layer(logits, image, log_thetas, weights, compatibility):  # noqa: ANN001, ANN202
        thetas = log_thetas.exp()
        return conv_crf(
            logits,
            image,
            kernel_size=3,
            iterations=2,
            theta_alpha=thetas[0],
            theta_beta=thetas[1],
            theta_gamma=thetas[2],
            w_smoothness=weights[0],
            w_appearance=weights[1],
            compatibility=compatibility,
        )

    assert torch.autograd.gradcheck(layer, (logits, image, log_thetas, weights, compatibility))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_module_runs_in_both_dtypes_and_learns(dtype: torch.dtype) -> None:
    labels = region_labels(12, 16)
    image = region_image(labels).permute(2, 0, 1).unsqueeze(0).to(dtype)
    logits = torch.log(noisy_probs(labels, signal=0.7)).unsqueeze(0).to(dtype)
    crf = ConvCRF(4, kernel_size=3, iterations=2).to(dtype)
    optimiser = torch.optim.Adam(crf.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        refined = crf(logits, image)
        assert refined.shape == logits.shape and refined.dtype == dtype
        loss = torch.nn.functional.cross_entropy(refined, labels.unsqueeze(0))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in crf.parameters())
    assert losses[-1] < losses[0]


def test_untrained_layer_improves_noisy_scores() -> None:
    labels = region_labels(12, 16)
    image = region_image(labels).permute(2, 0, 1).unsqueeze(0).double()
    logits = torch.log(noisy_probs(labels, signal=0.7)).unsqueeze(0)
    refined = ConvCRF(4, kernel_size=7, iterations=5).double()(logits, image)
    before = float((logits.argmax(1)[0] == labels).double().mean())
    after = float((refined.argmax(1)[0] == labels).double().mean())
    assert after > before + 0.2


def test_zero_iterations_and_bad_inputs() -> None:
    logits = torch.randn(2, 3, 4, 4)
    image = torch.rand(2, 3, 4, 4) * 255
    assert torch.equal(ConvCRF(3, iterations=0)(logits, image), logits)
    with pytest.raises(ValueError, match="odd"):
        ConvCRF(3, kernel_size=4)
    with pytest.raises(ValueError, match="image must have shape"):
        ConvCRF(3)(logits, image[:, :, :3])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        ConvCRF(3)(logits[:, :2], image)
