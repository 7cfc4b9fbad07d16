"""Pretrained weights: torchvision's ImageNet URL table, first-conv adaptation and loading.

``weights=None`` keeps the random (torchvision-style) initialisation, ``weights="imagenet"``
downloads torchvision's IMAGENET1K_V1 file with :func:`torch.hub.load_state_dict_from_url`
and ``check_hash=True`` (the 8 hex digits in the file name are the start of its SHA-256), and
any other string or path is read with :func:`torch.load` (``weights_only=True``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor

from pixelwise.encoders.base import Encoder

# torchvision's IMAGENET1K_V1 files (torchvision.models.*_Weights.IMAGENET1K_V1.url).
IMAGENET_URLS: dict[str, str] = {
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    "resnet34": "https://download.pytorch.org/models/resnet34-b627a593.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
    "resnet101": "https://download.pytorch.org/models/resnet101-63fe2227.pth",
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg16_bn": "https://download.pytorch.org/models/vgg16_bn-6c64b313.pth",
    "mobilenet_v2": "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
}


def adapt_input_channels(weight: Tensor, in_channels: int) -> Tensor:
    """Adapt a pretrained first-conv kernel ``(C_out, C_src, kH, kW)`` to ``in_channels`` inputs.

    * ``in_channels == C_src``: unchanged.
    * ``in_channels == 1``: the sum over the source channels (a grey image ``g`` fed to the
      summed kernel gives what the RGB kernel gives on ``(g, g, g)``).
    * otherwise: the source channels repeated cyclically (R, G, B, R, ...) and scaled by
      ``C_src / in_channels``, so an input whose channels are all equal to ``g`` gives what
      the source kernel gives on ``(g, g, g)`` when ``in_channels`` is a multiple of ``C_src``.
    """
    if weight.ndim != 4:
        raise ValueError(f"expected a 4-D conv kernel, got shape {tuple(weight.shape)}")
    if in_channels < 1:
        raise ValueError(f"in_channels must be >= 1, got {in_channels}")
    source_channels = weight.shape[1]
    if in_channels == source_channels:
        return weight
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    repeated = weight[:, [index % source_channels for index in range(in_channels)]]
    return repeated * (source_channels / in_channels)


class TorchvisionEncoder(Encoder):
    """An :class:`Encoder` whose keys are a torchvision classifier's minus its head.

    Subclasses set ``first_conv_key`` (the key of the input convolution's kernel),
    ``weights_name`` (the key of :data:`IMAGENET_URLS`) and ``in_channels``.
    """

    first_conv_key: str
    weights_name: str
    in_channels: int

    def load_torchvision_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        """Load torchvision weights strictly, dropping the classifier.

        A 3-channel first conv is adapted to ``in_channels`` with :func:`adapt_input_channels`.
        """
        state_dict = dict(state_dict)
        kernel = state_dict.get(self.first_conv_key)
        if kernel is not None and kernel.ndim == 4 and kernel.shape[1] != self.in_channels:
            state_dict[self.first_conv_key] = adapt_input_channels(kernel, self.in_channels)
        super().load_torchvision_state_dict(state_dict)


def _unwrap_checkpoint(checkpoint: object, source: str) -> dict[str, Tensor]:
    if isinstance(checkpoint, dict):
        for wrapper_key in ("state_dict", "model"):
            inner = checkpoint.get(wrapper_key)
            if isinstance(inner, dict):
                return inner
        return checkpoint
    raise TypeError(f"{source} does not hold a state dict (got {type(checkpoint).__name__})")


def imagenet_state_dict(name: str) -> dict[str, Tensor]:
    """Download (or read from the hub cache) torchvision's ImageNet weights for ``name``."""
    if name not in IMAGENET_URLS:
        raise KeyError(f"no ImageNet weights for {name!r}; available: {sorted(IMAGENET_URLS)}")
    return torch.hub.load_state_dict_from_url(
        IMAGENET_URLS[name], map_location="cpu", progress=True, check_hash=True
    )


def load_weights(encoder: TorchvisionEncoder, weights: str | os.PathLike[str] | None) -> None:
    """Load ``weights`` into ``encoder``: None (keep random init), "imagenet" or a file path.

    A file may hold a torchvision state dict directly or under a ``"state_dict"``/``"model"``
    key. Loading is strict apart from the dropped classifier.
    """
    if weights is None:
        return
    if isinstance(weights, str) and weights == "imagenet":
        state_dict = imagenet_state_dict(encoder.weights_name)
    else:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(
                f"weights={str(weights)!r} is neither 'imagenet', None nor an existing file"
            )
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        state_dict = _unwrap_checkpoint(checkpoint, str(path))
    encoder.load_torchvision_state_dict(state_dict)
