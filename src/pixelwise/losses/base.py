"""The base class every segmentation loss derives from: input checks and ``ignore_index``."""

from __future__ import annotations

from torch import Tensor, nn

from pixelwise.losses._functional import (
    check_inputs,
    check_labels,
    clean_target,
    valid_mask,
    zero_loss,
)


class SegmentationLoss(nn.Module):
    """Loss on ``logits`` ``(N, C, H, W)`` and integer ``target`` ``(N, H, W)``.

    ``C >= 2``: multiclass (softmax); ``C == 1``: binary (sigmoid, targets in ``{0, 1}``).
    Pixels labelled ``ignore_index`` contribute nothing. A batch in which every pixel is ignored
    returns a finite 0 that is still connected to ``logits``. Subclasses implement ``_loss`` on
    the cleaned target (ignored pixels set to 0) and the boolean ``valid`` mask ``(N, H, W)``,
    which has at least one ``True``. The result is a scalar.
    """

    name: str = ""

    def __init__(self, *, ignore_index: int | None = None) -> None:
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        check_inputs(logits, target)
        valid = valid_mask(target, self.ignore_index)
        cleaned = clean_target(target, valid)
        check_labels(cleaned, logits, self.ignore_index)
        if not bool(valid.any()):
            return zero_loss(logits)
        return self._loss(logits, cleaned, valid)

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}"
