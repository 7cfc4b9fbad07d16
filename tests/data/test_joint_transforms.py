from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pixelwise.data import (
    ColorJitter,
    Compose,
    Normalize,
    PadToMultiple,
    RandomHorizontalFlip,
    RandomRotate90,
    RandomScaleCrop,
    RandomVerticalFlip,
    Resize,
)

IGNORE = 255


def _pair(height: int = 23, width: int = 31, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    mask = torch.randint(0, 7, (height, width), generator=generator) * 3  # values 0, 3, ..., 18
    image = torch.rand(3, height, width, generator=generator)
    image[0] = mask.float() / 18  # channel 0 encodes the label: checks image/mask stay aligned
    return image, mask


def _all_transforms(generator: torch.Generator) -> list:
    return [
        RandomScaleCrop(17, scale=(0.5, 2.0), ignore_index=IGNORE, generator=generator),
        RandomScaleCrop((40, 12), scale=(0.3, 0.6), ignore_index=IGNORE, generator=generator),
        RandomScaleCrop(17, scale=(0.5, 2.0), generator=generator),
        RandomHorizontalFlip(generator=generator),
        RandomVerticalFlip(generator=generator),
        RandomRotate90(generator=generator),
        ColorJitter(0.3, 0.3, 0.3, generator=generator),
        Normalize(),
        Resize((11, 50)),
        Resize(scale=0.5),
        PadToMultiple(16, IGNORE),
    ]


@pytest.mark.parametrize("position", range(11))
def test_mask_values_stay_a_subset_of_the_input_plus_ignore(position):
    generator = torch.Generator().manual_seed(position)
    transform = _all_transforms(generator)[position]
    image, mask = _pair()
    allowed = set(mask.unique().tolist()) | {IGNORE}
    for _ in range(10):
        out_image, out_mask = transform(image, mask)
        assert out_mask.dtype == torch.int64 and out_image.shape[-2:] == out_mask.shape
        assert set(out_mask.unique().tolist()) <= allowed


def test_without_ignore_index_scale_crop_never_pads():
    transform = RandomScaleCrop(40, scale=(0.1, 0.2), generator=torch.Generator().manual_seed(0))
    image, mask = _pair(30, 30)
    for _ in range(5):
        out_image, out_mask = transform(image, mask)
        assert out_mask.shape == (40, 40)
        assert set(out_mask.unique().tolist()) <= set(mask.unique().tolist())


def test_crop_at_scale_one_is_an_aligned_window():
    image, mask = _pair(30, 40)
    out_image, out_mask = RandomScaleCrop((16, 20), scale=(1.0, 1.0), ignore_index=IGNORE)(
        image, mask
    )
    assert torch.equal(out_image[0], out_mask.float() / 18)  # image and mask cut at one place
    windows = mask.unfold(0, 16, 1).unfold(1, 20, 1)  # every possible 16 x 20 window
    assert (windows == out_mask).flatten(2).all(-1).any()


def test_scale_crop_pads_mask_with_ignore_and_image_with_zero():
    image, mask = _pair(10, 10)
    out_image, out_mask = RandomScaleCrop(30, scale=(1.0, 1.0), ignore_index=IGNORE)(image, mask)
    assert int((out_mask == IGNORE).sum()) == 30 * 30 - 10 * 10
    assert torch.all(out_image[:, out_mask == IGNORE] == 0)


@pytest.mark.parametrize("flip", [RandomHorizontalFlip, RandomVerticalFlip])
def test_flips_are_their_own_inverse(flip):
    image, mask = _pair()
    transform = flip(p=1.0)
    once = transform(image, mask)
    assert not torch.equal(once[1], mask)
    twice = transform(*once)
    assert torch.equal(twice[0], image) and torch.equal(twice[1], mask)
    assert torch.equal(once[0][0], once[1].float() / 18)
    untouched = flip(p=0.0)(image, mask)
    assert torch.equal(untouched[1], mask)


def test_horizontal_flip_by_hand():
    mask = torch.tensor([[1, 2, 3], [4, 5, 6]])
    image = mask[None].float()
    assert RandomHorizontalFlip(p=1.0)(image, mask)[1].tolist() == [[3, 2, 1], [6, 5, 4]]
    assert RandomVerticalFlip(p=1.0)(image, mask)[1].tolist() == [[4, 5, 6], [1, 2, 3]]


def test_rotations_keep_image_and_mask_aligned():
    image, mask = _pair()
    generator = torch.Generator().manual_seed(1)
    transform = RandomRotate90(generator=generator)
    shapes = set()
    for _ in range(12):
        out_image, out_mask = transform(image, mask)
        shapes.add(tuple(out_mask.shape))
        assert torch.equal(out_image[0], out_mask.float() / 18)
    assert shapes == {(23, 31), (31, 23)}


def test_normalize_by_hand():
    image = torch.stack([torch.full((2, 2), 0.5), torch.full((2, 2), 1.0)])
    out, _ = Normalize(mean=(0.25, 0.5), std=(0.5, 0.25))(
        image, torch.zeros(2, 2, dtype=torch.long)
    )
    assert torch.allclose(out[0], torch.full((2, 2), 0.5))  # (0.5 - 0.25) / 0.5
    assert torch.allclose(out[1], torch.full((2, 2), 2.0))  # (1.0 - 0.5) / 0.25
    with pytest.raises(ValueError, match="3 channel statistics but the image has 2"):
        Normalize()(image, torch.zeros(2, 2, dtype=torch.long))


def test_resize_matches_torch_interpolate():
    image, mask = _pair(36, 48)
    out_image, out_mask = Resize(scale=0.5)(image, mask)
    assert out_mask.shape == (18, 24)
    reference = F.interpolate(mask[None, None].float(), size=(18, 24), mode="nearest-exact")
    assert torch.equal(out_mask, reference[0, 0].long())
    reference_image = F.interpolate(
        image[None], size=(18, 24), mode="bilinear", align_corners=False, antialias=True
    )
    assert torch.allclose(out_image, reference_image[0])
    up_image, up_mask = Resize((50, 70))(image, mask)
    reference = F.interpolate(mask[None, None].float(), size=(50, 70), mode="nearest-exact")
    assert torch.equal(up_mask, reference[0, 0].long())
    assert Resize(24)(image, mask)[1].shape == (24, 32)  # shorter side, aspect kept


def test_color_jitter_changes_only_the_image_and_stays_in_range():
    image, mask = _pair()
    transform = ColorJitter(0.5, 0.5, 0.5, generator=torch.Generator().manual_seed(0))
    out_image, out_mask = transform(image, mask)
    assert out_mask is mask and not torch.equal(out_image, image)
    assert 0 <= float(out_image.min()) and float(out_image.max()) <= 1
    # Brightness only: a single factor from U(0.5, 1.5) multiplies every pixel.
    dim = ColorJitter(brightness=0.5, generator=torch.Generator().manual_seed(3))(image * 0.5, mask)
    factor = float(dim[0].sum() / (image * 0.5).sum())
    assert 0.5 <= factor <= 1.5 and torch.allclose(dim[0], image * 0.5 * factor, atol=1e-6)


def test_same_generator_seed_reproduces_the_pipeline():
    image, mask = _pair()

    def run(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        transforms = _all_transforms(generator)
        return Compose([transforms[i] for i in (0, 3, 4, 5, 6)])(image, mask)

    first, second, other = run(5), run(5), run(6)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], other[0])
    torch.manual_seed(11)  # without a generator: torch's global RNG
    global_first = RandomScaleCrop(9, ignore_index=IGNORE)(image, mask)
    torch.manual_seed(11)
    assert torch.equal(RandomScaleCrop(9, ignore_index=IGNORE)(image, mask)[1], global_first[1])


def test_pad_to_multiple_for_camvid_resolution():
    image, mask = torch.rand(3, 360, 480), torch.zeros(360, 480, dtype=torch.long)
    out_image, out_mask = PadToMultiple(32, IGNORE)(image, mask)
    assert out_mask.shape == (384, 480) and out_image.shape == (3, 384, 480)
    assert torch.all(out_mask[360:] == IGNORE) and torch.all(out_mask[:360] == 0)


def test_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match=r"image \(3, 4, 5\) and mask \(4, 6\)"):
        Compose([])(torch.zeros(3, 4, 5), torch.zeros(4, 6, dtype=torch.long))


def test_padded_small_images_land_at_random_offsets():
    image, mask = _pair(10, 10)
    transform = RandomScaleCrop(
        30, scale=(1.0, 1.0), ignore_index=IGNORE, generator=torch.Generator().manual_seed(0)
    )
    corners = set()
    for _ in range(8):
        _, out_mask = transform(image, mask)
        rows, cols = torch.nonzero(out_mask != IGNORE, as_tuple=True)
        corners.add((int(rows.min()), int(cols.min())))
        assert torch.equal(
            out_mask[rows.min() : rows.min() + 10, cols.min() : cols.min() + 10], mask
        )
    assert len(corners) > 1
