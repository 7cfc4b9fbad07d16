from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixelwise.data import CAMVID_CLASSES, ClassInfo, ClassTable, default_palette


def test_camvid_colours_match_the_authors_legend(camvid_root):
    # camvid11.png is the SegNet authors' 256-entry colour lookup table: entry i = colour of id i.
    legend = np.array(Image.open(camvid_root / "camvid11.png").convert("RGB"))[0]
    assert CAMVID_CLASSES.colors == [tuple(int(v) for v in c) for c in legend[:11]]
    assert CAMVID_CLASSES.ignore_color == tuple(int(v) for v in legend[11])
    assert CAMVID_CLASSES.num_classes == 11 and CAMVID_CLASSES.ignore_index == 11
    assert CAMVID_CLASSES.names[3] == "Road" and CAMVID_CLASSES.names[10] == "Bicyclist"


def test_rgb_round_trip_on_a_real_camvid_label(camvid_root):
    mask = np.array(Image.open(camvid_root / "CamVid/trainannot/0001TP_006690.png")).astype(
        np.int64
    )
    rgb = CAMVID_CLASSES.mask_to_rgb(mask)
    assert rgb.shape == (*mask.shape, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(CAMVID_CLASSES.mask_from_rgb(rgb), mask)


def test_mask_from_rgb_maps_each_colour_by_hand():
    table = ClassTable.from_names(
        ["a", "b"], [(255, 0, 0), (0, 0, 255)], ignore_index=255, ignore_color=(0, 0, 0)
    )
    rgb = np.array([[[255, 0, 0], [0, 0, 255]], [[0, 0, 0], [255, 0, 0]]], dtype=np.uint8)
    ids = table.mask_from_rgb(rgb)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [[0, 1], [255, 0]])


def test_unknown_colour_error_names_colour_count_file_and_valid_colours():
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[0, :3] = (1, 2, 3)
    with pytest.raises(ValueError) as error:
        CAMVID_CLASSES.mask_from_rgb(rgb, source="frame_007.png")
    message = str(error.value)
    assert "(1, 2, 3)" in message and "3 px" in message and "frame_007.png" in message
    assert "Road=(128, 64, 128)" in message and "ignore=(0, 0, 0)" in message


def test_check_mask_names_value_and_valid_range():
    mask = np.array([[0, 1], [12, 11]])
    with pytest.raises(ValueError, match=r"12 \(1 px\).*0\.\.10 or ignore_index=11"):
        CAMVID_CLASSES.check_mask(mask, source="x.png")
    CAMVID_CLASSES.check_mask(np.array([[0, 10], [11, 3]]))  # ignore value is allowed


def test_yaml_round_trip(tmp_path):
    path = tmp_path / "classes.yaml"
    CAMVID_CLASSES.to_yaml(path)
    loaded = ClassTable.from_yaml(path)
    assert loaded == CAMVID_CLASSES
    assert loaded.to_dict() == CAMVID_CLASSES.to_dict()


def test_yaml_ids_default_to_position(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "classes:\n  - {name: bg, color: [0, 0, 0]}\n  - {name: fg, color: [9, 9, 9]}\n"
    )
    table = ClassTable.from_yaml(path)
    assert table.names == ["bg", "fg"] and table.ignore_index is None


@pytest.mark.parametrize(
    ("classes", "ignore_index", "match"),
    [
        ([ClassInfo("a", 0, (1, 1, 1)), ClassInfo("b", 2, (2, 2, 2))], None, "exactly 0..1"),
        ([ClassInfo("a", 0, (1, 1, 1)), ClassInfo("a", 1, (2, 2, 2))], None, "unique"),
        ([ClassInfo("a", 0, (1, 1, 1)), ClassInfo("b", 1, (1, 1, 1))], None, "colours"),
        ([ClassInfo("a", 0, (1, 1, 1)), ClassInfo("b", 1, (2, 2, 2))], 1, "collides"),
    ],
)
def test_invalid_tables_are_rejected(classes, ignore_index, match):
    with pytest.raises(ValueError, match=match):
        ClassTable(classes, ignore_index=ignore_index)


def test_ids_given_out_of_order_are_sorted():
    table = ClassTable([ClassInfo("b", 1, (2, 2, 2)), ClassInfo("a", 0, (1, 1, 1))])
    assert table.names == ["a", "b"]


def test_default_palette_is_the_pascal_voc_palette():
    # PASCAL VOC colour map, labels 1..4 (label 0 is black and skipped).
    assert default_palette(4) == [(128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128)]
    assert len(set(default_palette(40))) == 40
