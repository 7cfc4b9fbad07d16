"""The encoder contract every backbone follows, so decoders never special-case a backbone."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class EncoderInfo:
    """What an encoder name offers, without building it (see ``encoder_info``).

    Attributes:
        name: the name ``create_encoder`` takes.
        family: ``"resnet"``, ``"vgg"``, ``"mobilenet"`` or ``"timm"``.
        out_channels: channels of the returned maps, shallow to deep.
        reductions: their strides at output stride 32.
        output_strides: the ``output_stride`` values it can be built with (16 and 8 dilate).
        multi_grid: whether it takes DeepLab v3's ``multi_grid`` unit rates.
        pool_indices: whether it also returns its max-pool indices (``forward_with_indices``),
            which SegNet's unpooling decoder needs.
        weights: ``(source, where)`` pairs, e.g. ``("imagenet", URL)`` and ``("file", ...)``:
            what ``weights=`` (a model's ``encoder_weights=``) accepts besides None.
    """

    name: str
    family: str
    out_channels: tuple[int, ...]
    reductions: tuple[int, ...]
    output_strides: tuple[int, ...]
    multi_grid: bool
    pool_indices: bool
    weights: tuple[tuple[str, str], ...]


class Encoder(nn.Module):
    """A backbone that returns one feature map per stage.

    Attributes every encoder sets:
        out_channels: channels of each returned feature map, shallow to deep.
        reductions: stride of each returned map relative to the input (e.g. 2, 4, 8, 16, 32; with
            dilation the deep stages repeat the last stride, e.g. 2, 4, 8, 8, 8).
        output_stride: ``reductions[-1]``.

    ``forward(x)`` returns ``list[Tensor]`` with ``len(out_channels)`` maps. Encoders whose
    max pools record their indices (VGG) also provide :meth:`forward_with_indices`
    (:attr:`pool_indices` is then True). The state-dict keys of an encoder are torchvision's
    for the same backbone minus its classifier, so :meth:`load_torchvision_state_dict` can load
    torchvision's ImageNet weights strictly.
    """

    out_channels: tuple[int, ...]
    reductions: tuple[int, ...]
    # Keys of the torchvision classifier that the encoder drops (prefixes, e.g. "fc.").
    classifier_prefixes: tuple[str, ...] = ()

    @property
    def output_stride(self) -> int:
        return self.reductions[-1]

    @property
    def pool_indices(self) -> bool:
        """Whether the encoder provides :meth:`forward_with_indices` (VGG's do), which SegNet's
        unpooling decoder needs."""
        return type(self).forward_with_indices is not Encoder.forward_with_indices

    def forward_with_indices(self, x: Tensor) -> tuple[Tensor, list[tuple[Tensor, torch.Size]]]:
        """The deepest map and, per max pool, ``(indices, pre-pool (H, W))``; only encoders
        whose :attr:`pool_indices` is True provide it."""
        raise NotImplementedError(f"{type(self).__name__} provides no max-pool indices")

    def forward(self, x: Tensor) -> list[Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def load_torchvision_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        """Load a torchvision classification state dict strictly, dropping only its classifier.

        Raises ``RuntimeError`` naming missing or unexpected keys.
        """
        backbone_state = {
            key: value
            for key, value in state_dict.items()
            if not key.startswith(self.classifier_prefixes)
        }
        self.load_state_dict(backbone_state, strict=True)
