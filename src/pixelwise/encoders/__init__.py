"""Backbones with torchvision's state-dict keys, following the :class:`Encoder` contract."""

from pixelwise.encoders.base import Encoder

__all__ = ["Encoder"]
