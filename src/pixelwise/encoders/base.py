"""The encoder contract every backbone follows, so decoders never special-case a backbone."""

from __future__ import annotations

from torch import Tensor, nn


class Encoder(nn.Module):
    """A backbone that returns one feature map per stage.

    Attributes every encoder sets:
        out_channels: channels of each returned feature map, shallow to deep.
        reductions: stride of each returned map relative to the input (e.g. 2, 4, 8, 16, 32; with
            dilation the deep stages repeat the last stride, e.g. 2, 4, 8, 8, 8).
        output_stride: ``reductions[-1]``.

    ``forward(x)`` returns ``list[Tensor]`` with ``len(out_channels)`` maps. The state-dict keys
    of an encoder are torchvision's for the same backbone minus its classifier, so
    :meth:`load_torchvision_state_dict` can load torchvision's ImageNet weights strictly.
    """

    out_channels: tuple[int, ...]
    reductions: tuple[int, ...]
    # Keys of the torchvision classifier that the encoder drops (prefixes, e.g. "fc.").
    classifier_prefixes: tuple[str, ...] = ()

    @property
    def output_stride(self) -> int:
        return self.reductions[-1]

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
