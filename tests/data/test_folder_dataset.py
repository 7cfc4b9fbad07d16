from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from pixelwise.data import CAMVID_CLASSES, ClassTable, FolderDataset, ImageReadError

THREE = ClassTable.from_names(["a", "b", "c"], ignore_index=255, ignore_color=(0, 0, 0))


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _pair_folder(root: Path, stems=("x", "y"), size=(6, 8), rng=None) -> tuple[Path, Path]:
    rng = rng or np.random.default_rng(0)
    for stem in stems:
        _save(root / "images" / f"{stem}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
        _save(root / "masks" / f"{stem}.png", rng.integers(0, 3, size, dtype=np.uint8))
    return root / "images", root / "masks"


def test_items_are_float_chw_in_unit_range_and_int64_masks(tmp_path):
    images, masks = _pair_folder(tmp_path)
    dataset = FolderDataset(images, masks, classes=THREE)
    assert len(dataset) == 2 and dataset.stems == ["x", "y"]
    image, mask = dataset[1]
    assert image.shape == (3, 6, 8) and image.dtype == torch.float32
    assert mask.shape == (6, 8) and mask.dtype == torch.int64
    expected = np.array(Image.open(images / "y.png"), dtype=np.float32) / 255
    np.testing.assert_allclose(image.permute(1, 2, 0).numpy(), expected)
    np.testing.assert_array_equal(mask.numpy(), np.array(Image.open(masks / "y.png")))


def test_pairs_by_stem_across_extensions_and_grey_images_have_one_channel(tmp_path):
    _save(tmp_path / "img" / "a.jpg", np.full((5, 7), 77, dtype=np.uint8))
    _save(tmp_path / "msk" / "a_mask.png", np.ones((5, 7), dtype=np.uint8))
    dataset = FolderDataset(tmp_path / "img", tmp_path / "msk", classes=THREE, mask_suffix="_mask")
    image, mask = dataset[0]
    assert image.shape == (1, 5, 7) and torch.all(mask == 1)


def test_transform_is_applied_jointly(tmp_path):
    images, masks = _pair_folder(tmp_path)
    dataset = FolderDataset(
        images, masks, classes=THREE, transform=lambda i, m: (i.flip(-1), m.flip(-1))
    )
    plain = FolderDataset(images, masks, classes=THREE)
    assert torch.equal(dataset[0][0], plain[0][0].flip(-1))
    assert torch.equal(dataset[0][1], plain[0][1].flip(-1))


def test_rgb_masks_are_decoded_with_the_class_table(tmp_path):
    ids = np.array([[0, 1, 2], [11, 3, 8]])
    _save(tmp_path / "i" / "f.png", np.zeros((2, 3, 3), dtype=np.uint8))
    _save(tmp_path / "m" / "f.png", CAMVID_CLASSES.mask_to_rgb(ids))
    dataset = FolderDataset(tmp_path / "i", tmp_path / "m", classes=CAMVID_CLASSES, mask_mode="rgb")
    np.testing.assert_array_equal(dataset[0][1].numpy(), ids)
    index_mode = FolderDataset(tmp_path / "i", tmp_path / "m", classes=CAMVID_CLASSES)
    with pytest.raises(ValueError, match="mask_mode='rgb'"):
        index_mode[0]


def test_mask_value_outside_the_table_names_file_value_and_fix(tmp_path):
    images, masks = _pair_folder(tmp_path, stems=("only",))
    bad = np.zeros((6, 8), dtype=np.uint8)
    bad[0, 0] = 7
    _save(masks / "only.png", bad)
    dataset = FolderDataset(images, masks, classes=THREE)
    with pytest.raises(ValueError) as error:
        dataset[0]
    message = str(error.value)
    assert "only.png" in message and "7 (1 px)" in message and "0..2" in message
    assert "ignore_index=255" in message and "Fix" in message


def test_image_and_mask_of_different_sizes_name_both_files_and_sizes(tmp_path):
    images, masks = _pair_folder(tmp_path, stems=("p",))
    _save(masks / "p.png", np.zeros((6, 9), dtype=np.uint8))
    with pytest.raises(ValueError) as error:
        FolderDataset(images, masks, classes=THREE)[0]
    message = str(error.value)
    assert str(images / "p.png") in message and str(masks / "p.png") in message
    assert "6x8" in message and "6x9" in message


def test_truncated_image_raises_naming_the_file(tmp_path):
    images, masks = _pair_folder(tmp_path, stems=("t",), size=(64, 64))
    data = (images / "t.png").read_bytes()
    (images / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"t\.png.*truncated"):
        FolderDataset(images, masks, classes=THREE)[0]


def test_non_image_file_raises_naming_the_file(tmp_path):
    images, masks = _pair_folder(tmp_path, stems=("g",))
    (images / "g.png").write_bytes(b"not a png at all")
    with pytest.raises(ImageReadError, match=r"g\.png"):
        FolderDataset(images, masks, classes=THREE)[0]


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    with pytest.raises(ValueError, match="no images"):
        FolderDataset(tmp_path / "i", tmp_path / "m", classes=THREE)
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        FolderDataset(tmp_path / "missing_dir", tmp_path / "m", classes=THREE)


def test_unmatched_stems_are_listed_on_both_sides(tmp_path):
    images, masks = _pair_folder(tmp_path, stems=("a", "b"))
    (masks / "b.png").rename(masks / "c.png")
    with pytest.raises(ValueError) as error:
        FolderDataset(images, masks, classes=THREE)
    message = str(error.value)
    assert "1 image(s) without a mask: 'b'" in message
    assert "1 mask(s) without an image: 'c'" in message


def test_duplicate_stems_are_rejected(tmp_path):
    images, masks = _pair_folder(tmp_path, stems=("d",))
    _save(images / "d.jpg", np.zeros((6, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="share the stem 'd'"):
        FolderDataset(images, masks, classes=THREE)


@pytest.mark.parametrize("planar", [False, True])
def test_multiband_uint16_tiff(tmp_path, planar):
    rng = np.random.default_rng(1)
    bands = rng.integers(0, 65536, (5, 6, 7), dtype=np.uint16)  # C x H x W
    (tmp_path / "i").mkdir()
    if planar:
        tifffile.imwrite(tmp_path / "i" / "s.tif", bands, photometric="minisblack")
    else:
        tifffile.imwrite(tmp_path / "i" / "s.tif", bands.transpose(1, 2, 0), planarconfig="contig")
    _save(tmp_path / "m" / "s.png", np.zeros((6, 7), dtype=np.uint8))
    image, _ = FolderDataset(tmp_path / "i", tmp_path / "m", classes=THREE)[0]
    assert image.shape == (5, 6, 7)
    np.testing.assert_allclose(image.numpy(), bands / 65535.0, rtol=1e-6)


def test_palette_masks_keep_indices_while_palette_and_rgba_images_become_rgb(tmp_path):
    indices = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    palette = [10, 20, 30, 200, 100, 50, 7, 8, 9] + [0] * (768 - 9)
    for folder in ("i", "m"):
        picture = Image.fromarray(indices, mode="P")
        picture.putpalette(palette)
        (tmp_path / folder).mkdir()
        picture.save(tmp_path / folder / "p.png")
    image, mask = FolderDataset(tmp_path / "i", tmp_path / "m", classes=THREE)[0]
    np.testing.assert_array_equal(mask.numpy(), indices)
    assert image.shape == (3, 2, 3)
    assert image[:, 0, 1].mul(255).round().tolist() == [200, 100, 50]  # palette entry 1
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    _save(tmp_path / "i" / "p.png", rgba)
    assert FolderDataset(tmp_path / "i", tmp_path / "m", classes=THREE)[0][0].shape == (3, 2, 3)
