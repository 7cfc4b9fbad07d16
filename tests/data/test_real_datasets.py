"""Reading the real CamVid and ISBI 2012 copies in /work/shared/data (read-only)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pixelwise.data import (
    CAMVID_CONTENT_SHA256,
    CAMVID_SEGNET_CLASS_WEIGHTS,
    ISBI2012,
    ISBI_CLASSES,
    CamVid,
    binarize_isbi_label,
    folder_digest,
)
from shared_paths import SHARED_DATA


def test_camvid_split_sizes_and_both_root_forms(camvid_root):
    # Sizes from the SegNet release (README): 367 train, 101 val, 233 test.
    assert [len(CamVid(camvid_root, s)) for s in ("train", "val", "test")] == [367, 101, 233]
    assert CamVid(camvid_root / "CamVid", "val").pairs == CamVid(camvid_root, "val").pairs


@pytest.mark.parametrize(("split", "index"), [("train", 0), ("test", 232)])
def test_two_real_camvid_images(camvid_root, split, index):
    dataset = CamVid(camvid_root, split)
    image, mask = dataset[index]
    assert image.shape == (3, 360, 480) and image.dtype == torch.float32
    assert mask.shape == (360, 480) and mask.dtype == torch.int64
    assert 0 <= int(mask.min()) and int(mask.max()) <= 11
    image_path, mask_path = dataset.pairs[index]
    listed = (camvid_root / "CamVid" / f"{split}.txt").read_text().splitlines()[index].split()
    assert listed[0].endswith(f"{split}/{image_path.name}")
    assert listed[1].endswith(f"{split}annot/{mask_path.name}")
    reference = np.asarray(Image.open(image_path), dtype=np.float32) / 255
    np.testing.assert_allclose(image.permute(1, 2, 0).numpy(), reference)
    np.testing.assert_array_equal(mask.numpy(), np.asarray(Image.open(mask_path)))


def test_camvid_missing_root_points_to_the_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download_camvid"):
        CamVid(tmp_path, "train")
    with pytest.raises(ValueError, match="'train', 'val' or 'test'"):
        CamVid(tmp_path, "training")  # type: ignore[arg-type]


def test_camvid_content_digest_constant_matches_the_real_copy(camvid_root):
    assert folder_digest(camvid_root / "CamVid") == CAMVID_CONTENT_SHA256


def test_isbi_split_is_the_last_slices(isbi_root):
    train, val = ISBI2012(isbi_root, "train"), ISBI2012(isbi_root, "val")
    assert len(train) == 25 and len(val) == 5
    assert [p[0].stem for p in val.pairs] == ["25", "26", "27", "28", "29"]
    assert [p[0].stem for p in train.pairs][:3] == ["0", "1", "2"]  # numeric, not "0", "1", "10"
    assert len(ISBI2012(isbi_root, "val", val_count=10)) == 10
    with pytest.raises(ValueError, match="val_count"):
        ISBI2012(isbi_root, "val", val_count=30)
    with pytest.raises(ValueError, match="not public"):
        ISBI2012(isbi_root, "test")  # type: ignore[arg-type]


@pytest.mark.parametrize(("split", "index"), [("train", 0), ("val", 4)])
def test_two_real_isbi_images(isbi_root, split, index):
    dataset = ISBI2012(isbi_root / "train", split)  # the folder holding image/ and label/ works too
    image, mask = dataset[index]
    assert image.shape == (1, 512, 512) and mask.shape == (512, 512)
    assert set(mask.unique().tolist()) == {0, 1}
    label = np.asarray(Image.open(dataset.pairs[index][1]))
    np.testing.assert_array_equal(mask.numpy(), (label == 255).astype(np.int64))
    # README: cell interior is ~78 % of the pixels.
    assert 0.65 < float(mask.float().mean()) < 0.9
    assert ISBI_CLASSES.names == ["membrane", "cell"]


def test_isbi_threshold_is_128():
    grey = np.array([0, 1, 127, 128, 200, 255], dtype=np.uint8)
    np.testing.assert_array_equal(binarize_isbi_label(grey), [0, 0, 0, 1, 1, 1])


def test_segnet_class_weights_match_the_data_readme() -> None:
    # The shared data README quotes the SegNet-Tutorial weights; the constant must be those.
    readme = SHARED_DATA / "README.md"
    lines = readme.read_text().splitlines()
    start = next(
        (i for i, line in enumerate(lines) if "Median-frequency class weights" in line), None
    )
    assert start is not None, f"{readme} no longer quotes the median-frequency class weights"
    quoted = tuple(float(v) for v in lines[start + 1].strip().rstrip(".").split(","))
    assert CAMVID_SEGNET_CLASS_WEIGHTS == quoted
