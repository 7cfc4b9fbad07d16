"""The gallery from a folder (``DIR/images`` + ``DIR/masks`` by stem, or plain images), and the
command's checks."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from serve_helpers import png_bytes

from pixelwise.data import SYNTHETIC_CLASSES, synthetic_raster
from pixelwise.serve import Limits, ServeSettings, build_app


def _folder(root: Path, rgb_masks: bool = False) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for index in range(3):
        image, mask = synthetic_raster(80, 96, seed=50 + index)
        (root / "images" / f"tile{index}.png").write_bytes(png_bytes(image))
        if index == 2:
            continue  # an image without a mask
        if rgb_masks:
            colors = np.array(SYNTHETIC_CLASSES.colors, dtype=np.uint8)
            (root / "masks" / f"tile{index}.png").write_bytes(png_bytes(colors[mask]))
        else:
            (root / "masks" / f"tile{index}.png").write_bytes(png_bytes(mask))
    return root


@pytest.mark.parametrize("rgb_masks", [False, True])
def test_folder_with_masks(tiny_loaded, upload_root: Path, tmp_path: Path, rgb_masks: bool) -> None:  # type: ignore[no-untyped-def]
    folder = _folder(tmp_path / "data", rgb_masks)
    app = build_app(tiny_loaded, images=folder, settings=ServeSettings(tmp_root=upload_root))
    with TestClient(app) as client:
        listing = client.get("/gallery").json()
        assert listing["source"] == "folder"
        items = {item["name"]: item for item in listing["items"]}
        assert sorted(items) == ["tile0.png", "tile1.png", "tile2.png"]
        assert [items[f"tile{i}.png"]["has_mask"] for i in range(3)] == [True, True, False]
        assert all(str(tmp_path) not in str(item) for item in listing["items"])
        item = items["tile0.png"]
        assert (item["height"], item["width"]) == (80, 96)
        mask = client.get(item["mask"])
        assert Image.open(BytesIO(mask.content)).size == (96, 80)
        body = client.post(f"/predict?gallery={item['id']}&output=json").json()
        assert body["has_mask"] and body["mean_iou"] is not None
        body = client.post(f"/predict?gallery={items['tile2.png']['id']}&output=json").json()
        assert not body["has_mask"] and "mean_iou" not in body
        assert client.get(f"/gallery/{items['tile2.png']['id']}/mask.png").status_code == 404


def test_plain_folder_and_missing_folder(tiny_loaded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image, _ = synthetic_raster(40, 40, seed=1)
    (tmp_path / "one.png").write_bytes(png_bytes(image))
    (tmp_path / "notes.txt").write_text("not an image")
    app = build_app(tiny_loaded, images=tmp_path)
    with TestClient(app) as client:
        items = client.get("/gallery").json()["items"]
        assert [(i["id"], i["name"], i["has_mask"]) for i in items] == [("f0", "one.png", False)]
    with pytest.raises(FileNotFoundError, match="not a folder"):
        build_app(tiny_loaded, images=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no images"):
        build_app(tiny_loaded, images=tmp_path / "empty")


def test_run_serve_checks_its_arguments(tiny_checkpoint: Path) -> None:
    from pixelwise.commands.serve import run_serve

    with pytest.raises(ValueError, match="max_upload_mb"):
        run_serve(tiny_checkpoint, max_upload_mb=0)
    with pytest.raises(FileNotFoundError, match="neither a checkpoint"):
        run_serve(tiny_checkpoint.parent / "missing.pt", port=1)


def test_limits_default_to_pillows_pixel_limit() -> None:
    assert Limits().pixels == Image.MAX_IMAGE_PIXELS
    assert Limits(max_pixels=10).to_json()["max_pixels"] == 10
