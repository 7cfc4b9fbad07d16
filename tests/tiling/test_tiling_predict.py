"""In-memory tiled inference against whole-image inference and brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiling_helpers import conv_net, whole_image_probs
from torch import nn

from pixelwise.io import ArraySource
from pixelwise.tiling import TileGrid, blend_weights, engine, predict_tensor
from pixelwise.tiling.engine import iter_blocks


@pytest.mark.parametrize(
    "shape",
    [(101, 77), (81, 33), (24 * 3 + 8 + 1, 57), (20, 13), (1, 50), (32, 32)],
    ids=["odd", "one-tile-wide-plus-1", "one-pixel-remainder", "smaller", "one-row", "exact"],
)
def test_crop_equals_whole_image_inference(shape: tuple[int, int]) -> None:
    net = conv_net()
    image = torch.randn(3, *shape)
    probs = predict_tensor(net, image, tile=32, overlap=8, blend="crop", batch_size=3)
    assert probs.shape == (4, *shape)
    if shape[0] >= 32 and shape[1] >= 32:
        torch.testing.assert_close(probs, whole_image_probs(net, image), rtol=1e-5, atol=1e-6)
    else:  # reflect padding differs from zero padding near the padded edge: compare against
        # the model on the reflect-padded image, cropped back (what the brief prescribes)
        pad_h, pad_w = max(0, 32 - shape[0]), max(0, 32 - shape[1])
        padded = np.pad(image.numpy(), ((0, 0), (0, pad_h), (0, pad_w)), mode="reflect")
        reference = whole_image_probs(net, torch.from_numpy(padded))[:, : shape[0], : shape[1]]
        torch.testing.assert_close(probs, reference, rtol=1e-5, atol=1e-6)


def test_crop_in_logit_space_equals_whole_image_logits() -> None:
    net, image = conv_net(), torch.randn(3, 70, 90)
    logits = predict_tensor(net, image, tile=32, overlap=10, blend="crop", space="logits")
    with torch.no_grad():
        torch.testing.assert_close(logits, net(image[None])[0], rtol=1e-5, atol=1e-5)


def _brute_force(net: nn.Module, image: torch.Tensor, tile: int, overlap: int, mode: str):
    """Full-size accumulators, every tile pasted with its weight: sum(w p) / sum(w)."""
    grid = TileGrid(image.shape[1], image.shape[2], tile=tile, overlap=overlap)
    weight = blend_weights(mode, tile, overlap)
    total = torch.zeros(4, *image.shape[1:])
    count = torch.zeros(image.shape[1:])
    for t in grid:
        crop = image[:, t.y : t.y + tile, t.x : t.x + tile]
        total[:, t.y : t.y + tile, t.x : t.x + tile] += whole_image_probs(net, crop) * weight
        count[t.y : t.y + tile, t.x : t.x + tile] += weight
    return total / count


@pytest.mark.parametrize("mode", ["mean", "gaussian"])
@pytest.mark.parametrize("batch_size,flush_rows", [(1, 256), (5, 256), (3, 5)])
def test_mean_and_gaussian_equal_a_brute_force_accumulator(
    mode: str, batch_size: int, flush_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "FLUSH_ROWS", flush_rows)  # rows flushed in several chunks
    net, image = conv_net(), torch.randn(3, 97, 75)
    probs = predict_tensor(net, image, tile=32, overlap=12, blend=mode, batch_size=batch_size)
    torch.testing.assert_close(probs, _brute_force(net, image, 32, 12, mode), rtol=1e-5, atol=1e-6)


def test_mean_with_no_overlap_is_plain_tiling() -> None:
    net, image = conv_net(), torch.randn(3, 64, 96)
    probs = predict_tensor(net, image, tile=32, overlap=0, blend="mean", batch_size=4)
    rows = []
    for y in (0, 32):
        tiles = [whole_image_probs(net, image[:, y : y + 32, x : x + 32]) for x in (0, 32, 64)]
        rows.append(torch.cat(tiles, dim=2))
    plain = torch.cat(rows, dim=1)
    torch.testing.assert_close(probs, plain, rtol=1e-5, atol=1e-6)


def _symmetric_net() -> nn.Module:
    """Kernels symmetric under horizontal and vertical flips: the net is flip-equivariant."""
    net = conv_net()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                w = module.weight
                w.copy_((w + w.flip(-1) + w.flip(-2) + w.flip(-1, -2)) / 4)
    return net


@pytest.mark.parametrize("mode", ["crop", "gaussian"])
def test_tta_with_a_flip_equivariant_model_changes_nothing(mode: str) -> None:
    net, image = _symmetric_net(), torch.randn(3, 50, 61)
    plain = predict_tensor(net, image, tile=32, overlap=8, blend=mode)
    augmented = predict_tensor(net, image, tile=32, overlap=8, blend=mode, tta=True)
    torch.testing.assert_close(augmented, plain, rtol=1e-5, atol=1e-6)


def test_tta_averages_the_flipped_predictions() -> None:
    net, image = conv_net(), torch.randn(3, 48, 64)  # not equivariant: TTA matters
    augmented = predict_tensor(net, image, tile=32, overlap=8, blend="crop", tta="flips")
    reference = (
        whole_image_probs(net, image)
        + whole_image_probs(net, image.flip(-1)).flip(-1)
        + whole_image_probs(net, image.flip(-2)).flip(-2)
    ) / 3
    torch.testing.assert_close(augmented, reference, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(augmented, whole_image_probs(net, image), atol=1e-4)


def test_single_output_channel_uses_sigmoid() -> None:
    net, image = conv_net(num_classes=1), torch.randn(3, 40, 45)
    probs = predict_tensor(net, image, tile=32, overlap=8, blend="crop")
    with torch.no_grad():
        torch.testing.assert_close(probs, torch.sigmoid(net(image[None]))[0], rtol=1e-5, atol=1e-6)


def test_hwc_layout_and_numpy_input() -> None:
    net, image = conv_net(), torch.randn(3, 40, 45)
    chw = predict_tensor(net, image, tile=32, overlap=8, blend="crop")
    hwc_array = image.permute(1, 2, 0).numpy()
    hwc = predict_tensor(net, hwc_array, tile=32, overlap=8, blend="crop", layout="HWC")
    torch.testing.assert_close(chw, hwc)


def test_band_count_mismatch_names_both_numbers() -> None:
    net = conv_net(in_channels=3)
    with pytest.raises(ValueError, match=r"has 4 bands but the model expects 3 input channels"):
        predict_tensor(net, torch.randn(4, 40, 40), tile=32, overlap=8)
    with pytest.raises(ValueError, match=r"has 40 bands.*layout='HWC'"):
        predict_tensor(net, torch.randn(40, 40, 3), tile=32, overlap=8)


def test_rows_stream_out_before_the_image_is_read() -> None:
    """Each input row is read once, and output rows leave before the last rows are read."""
    image = np.random.default_rng(0).normal(size=(3, 300, 40)).astype(np.float32)
    reads: list[tuple[int, int]] = []

    class Recording(ArraySource):
        def read(self, row0, row1, col0=0, col1=None):
            reads.append((row0, row1))
            return super().read(row0, row1, col0, col1)

    blocks = iter_blocks(
        conv_net(),
        Recording(image),
        tile=32,
        overlap=8,
        blend="gaussian",
        batch_size=2,
        progress=False,
    )
    first = next(blocks)
    assert first.row0 == 0 and max(r1 for _, r1 in reads) <= 64
    rows = [first.values.shape[1]] + [b.values.shape[1] for b in blocks]
    assert sum(rows) == 300 and max(rows) <= 32
    covered = np.zeros(300, dtype=int)
    for row0, row1 in reads:
        covered[row0:row1] += 1
    assert (covered == 1).all()


@pytest.mark.parametrize("nodata", [-9999.0, float("nan")])
def test_nodata_pixels_enter_the_model_as_zero(nodata: float) -> None:
    net = conv_net()
    image = torch.rand(3, 40, 50) + 1
    image[:, 5:15, 10:20] = nodata
    image[0, 30, 30] = nodata  # one band only: not nodata
    zeroed = image.clone()
    zeroed[:, 5:15, 10:20] = 0.0
    probs = predict_tensor(net, image, tile=32, overlap=8, blend="crop", nodata=nodata)
    if nodata == nodata:
        # atol 1e-5: the lone -9999 makes activations ~1e4, so float32 rounding reaches ~2e-6
        torch.testing.assert_close(probs, whole_image_probs(net, zeroed), rtol=1e-5, atol=1e-5)
    else:  # the lone NaN stays NaN (it is data), but the nodata block does not spread NaN
        assert torch.isfinite(probs[:, :20, :]).all()
