"""Trainable CRF layer: mean-field inference unrolled as a recurrent layer over a local window.

Zheng et al., "Conditional Random Fields as Recurrent Neural Networks" (CRF-as-RNN, ICCV 2015)
and Teichmann and Cipolla, "Convolutional CRFs for Semantic Segmentation" (ConvCRF, BMVC 2019,
arXiv 2018). DeepLab v1/v2 apply the dense CRF as a fixed post-processing step; this layer
instead truncates the Gaussian kernels to a ``k x k`` window (ConvCRF's assumption), so every
step is ordinary differentiable tensor algebra and the kernel widths, kernel weights and the
label compatibility are learnt end to end with the network in front of it.

One iteration, for logits ``(N, C, H, W)`` and the image ``(N, 3, H, W)`` (0-255 scale)::

    Q   = softmax(current)
    m_i = sum_{j in window(i), j != i} (w_s k_s(i, j) / Z_s(i) + w_a k_a(i, j) / Z_a(i)) Q_j
    current = logits - mu m          (mu: (C, C) penalty, Potts 1 - I at initialisation)

with the smoothness kernel ``k_s = exp(-|p_i - p_j|^2 / (2 theta_gamma^2))``, the appearance
kernel ``k_a = exp(-|p_i - p_j|^2 / (2 theta_alpha^2) - |I_i - I_j|^2 / (2 theta_beta^2))`` and,
with ``normalize=True``, ``Z(i) = sum_j k(i, j)`` over the window (so messages lie in ``[0, 1]``
like the normalised dense CRF's). Cost per iteration: ``O(N C H W k^2)`` time, ``O(N H W k^2)``
extra memory for the precomputed kernel weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ConvCRF", "conv_crf"]


def _window_weights(
    image: Tensor,
    kernel_size: int,
    theta_alpha: Tensor,
    theta_beta: Tensor,
    theta_gamma: Tensor,
    w_smoothness: Tensor,
    w_appearance: Tensor,
    normalize: bool,
) -> list[tuple[int, int, Tensor]]:
    """Per-offset combined message weights ``(dy, dx, (N, 1, H, W))``, centre excluded."""
    n, _, height, width = image.shape
    pad = kernel_size // 2
    padded_image = F.pad(image, (pad, pad, pad, pad), mode="replicate")
    inside = F.pad(image.new_ones(n, 1, height, width), (pad, pad, pad, pad))
    smooth, appear = [], []
    for dy in range(-pad, pad + 1):
        for dx in range(-pad, pad + 1):
            if dy == 0 and dx == 0:
                continue
            rows = slice(pad + dy, pad + dy + height)
            cols = slice(pad + dx, pad + dx + width)
            valid = inside[:, :, rows, cols]
            squared_distance = float(dy * dy + dx * dx)
            colour = (image - padded_image[:, :, rows, cols]).square().sum(1, keepdim=True)
            smooth.append(valid * torch.exp(-squared_distance / (2 * theta_gamma**2)))
            appear.append(
                valid
                * torch.exp(-squared_distance / (2 * theta_alpha**2) - colour / (2 * theta_beta**2))
            )
    if normalize:
        smooth_total = torch.stack(smooth).sum(0).clamp_min(1e-20)
        appear_total = torch.stack(appear).sum(0).clamp_min(1e-20)
        smooth = [k / smooth_total for k in smooth]
        appear = [k / appear_total for k in appear]
    offsets = [(dy, dx) for dy in range(-pad, pad + 1) for dx in range(-pad, pad + 1)]
    offsets.remove((0, 0))
    return [
        (dy, dx, w_smoothness * ks + w_appearance * ka)
        for (dy, dx), ks, ka in zip(offsets, smooth, appear)
    ]


def conv_crf(
    logits: Tensor,
    image: Tensor,
    *,
    kernel_size: int = 7,
    iterations: int = 5,
    theta_alpha: Tensor | float = 80.0,
    theta_beta: Tensor | float = 13.0,
    theta_gamma: Tensor | float = 3.0,
    w_smoothness: Tensor | float = 3.0,
    w_appearance: Tensor | float = 10.0,
    compatibility: Tensor | None = None,
    normalize: bool = True,
) -> Tensor:
    """Functional ConvCRF (see the module docstring): refined logits ``(N, C, H, W)``."""
    if logits.ndim != 4:
        raise ValueError(f"logits must have shape (N, C, H, W); got {tuple(logits.shape)}")
    n, num_classes, height, width = logits.shape
    if image.shape != (n, 3, height, width):
        raise ValueError(
            f"image must have shape ({n}, 3, {height}, {width}) to match the logits; "
            f"got {tuple(image.shape)}"
        )
    if kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd integer >= 3; got {kernel_size}")
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0; got {iterations}")
    if compatibility is None:
        compatibility = 1.0 - torch.eye(num_classes, dtype=logits.dtype, device=logits.device)
    if compatibility.shape != (num_classes, num_classes):
        raise ValueError(
            f"compatibility must have shape ({num_classes}, {num_classes}); "
            f"got {tuple(compatibility.shape)}"
        )

    def as_tensor(value: Tensor | float) -> Tensor:
        return torch.as_tensor(value, dtype=logits.dtype, device=logits.device)

    weights = _window_weights(
        image.to(logits.dtype),
        kernel_size,
        as_tensor(theta_alpha),
        as_tensor(theta_beta),
        as_tensor(theta_gamma),
        as_tensor(w_smoothness),
        as_tensor(w_appearance),
        normalize,
    )
    pad = kernel_size // 2
    current = logits
    for _ in range(iterations):
        q = F.pad(torch.softmax(current, dim=1), (pad, pad, pad, pad))
        message = torch.zeros_like(logits)
        for dy, dx, weight in weights:
            shifted = q[:, :, pad + dy : pad + dy + height, pad + dx : pad + dx + width]
            message = message + weight * shifted
        pairwise = torch.einsum("lm,nmhw->nlhw", compatibility.to(logits.dtype), message)
        current = logits - pairwise
    return current


class ConvCRF(nn.Module):
    """Trainable local-window CRF (ConvCRF / CRF-as-RNN) to put after any segmentation model.

    ``forward(logits (N, C, H, W), image (N, 3, H, W) on the 0-255 scale) -> logits (N, C, H, W)``.
    Learnable (when ``learnable=True``): the three kernel widths (through their logarithms, so
    they stay positive), the two kernel weights and the ``(C, C)`` compatibility (Potts
    ``1 - I`` at initialisation). Initial values are DeepLab's dense-CRF settings.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        kernel_size: int = 7,
        iterations: int = 5,
        theta_alpha: float = 80.0,
        theta_beta: float = 13.0,
        theta_gamma: float = 3.0,
        w_smoothness: float = 3.0,
        w_appearance: float = 10.0,
        learnable: bool = True,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2; got {num_classes}")
        if kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd integer >= 3; got {kernel_size}")
        for name, value in (("theta_alpha", theta_alpha), ("theta_beta", theta_beta)):
            if value <= 0:
                raise ValueError(f"{name} must be positive; got {value}")
        if theta_gamma <= 0:
            raise ValueError(f"theta_gamma must be positive; got {theta_gamma}")
        self.num_classes = num_classes
        self.kernel_size = kernel_size
        self.iterations = iterations
        self.normalize = normalize
        log_thetas = torch.tensor(
            [math.log(theta_alpha), math.log(theta_beta), math.log(theta_gamma)]
        )
        weights = torch.tensor([w_smoothness, w_appearance])
        compatibility = 1.0 - torch.eye(num_classes)
        if learnable:
            self.log_thetas = nn.Parameter(log_thetas)
            self.kernel_weights = nn.Parameter(weights)
            self.compatibility = nn.Parameter(compatibility)
        else:
            self.register_buffer("log_thetas", log_thetas)
            self.register_buffer("kernel_weights", weights)
            self.register_buffer("compatibility", compatibility)

    def forward(self, logits: Tensor, image: Tensor) -> Tensor:
        if logits.ndim != 4 or logits.shape[1] != self.num_classes:
            raise ValueError(
                f"logits must have shape (N, {self.num_classes}, H, W); got {tuple(logits.shape)}"
            )
        thetas = self.log_thetas.exp()
        return conv_crf(
            logits,
            image,
            kernel_size=self.kernel_size,
            iterations=self.iterations,
            theta_alpha=thetas[0],
            theta_beta=thetas[1],
            theta_gamma=thetas[2],
            w_smoothness=self.kernel_weights[0],
            w_appearance=self.kernel_weights[1],
            compatibility=self.compatibility,
            normalize=self.normalize,
        )

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, kernel_size={self.kernel_size}, "
            f"iterations={self.iterations}, normalize={self.normalize}"
        )
