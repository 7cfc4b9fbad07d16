"""A float32 model on bands 4, 3, 2 of multispectral TIFFs, with a nodata value: band
selection, the RGB exception, pixel types, nodata labels, and no synthetic gallery."""

from __future__ import annotations

import time
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from serve_helpers import png_bytes, tiff_bytes

from pixelwise import create_model
from pixelwise.data import ClassTable
from pixelwise.pretrained import save_pretrained
from pixelwise.record import ModelRecord, Preprocessing
from pixelwise.serve import ServeSettings, build_app

NODATA = -9999.0


@pytest.fixture(scope="module")
def multiband_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = create_model("unet", num_classes=3, in_channels=3, base_channels=4, depth=2)
    record = ModelRecord(
        architecture="unet",
        options={"base_channels": 4, "depth": 2},
        num_outputs=3,
        classes=ClassTable.from_names(["water", "crop", "urban"], ignore_index=255),
        preprocessing=Preprocessing(
            in_channels=3,
            dtype="float32",
            scale=(1.0,) * 3,
            mean=(0.2,) * 3,
            std=(0.1,) * 3,
            bands=(4, 3, 2),
            nodata=NODATA,
        ),
    )
    return save_pretrained(model, tmp_path_factory.mktemp("multiband") / "model", record=record)


def test_multiband_uploads(multiband_folder: Path, upload_root: Path) -> None:
    app = build_app(multiband_folder, settings=ServeSettings(tmp_root=upload_root))
    rng = np.random.default_rng(0)
    with TestClient(app) as client:
        listing = client.get("/gallery").json()
        assert listing["items"] == [] and "--images" in listing["note"]

        five = rng.random((5, 40, 48), dtype=np.float32)
        five[:, :8, :8] = NODATA  # a nodata corner, every band
        response = client.post("/predict", files={"file": ("s2.tif", tiff_bytes(five))})
        assert response.status_code == 200, response.text
        labels = np.asarray(Image.open(BytesIO(response.content)))
        assert (labels[:8, :8] == 255).all() and (labels[8:, 8:] < 3).all()
        body = client.post(
            "/predict?output=json", files={"file": ("s2.tif", tiff_bytes(five))}
        ).json()
        assert body["bands"] == 5 and body["nodata_share"] == pytest.approx(64 / (40 * 48))
        assert sum(row["share"] for row in body["classes"]) == pytest.approx(1.0)

        three = rng.random((3, 40, 48), dtype=np.float32)  # RGB-like: taken as it is
        rgb = tiff_bytes(three, photometric="rgb", planarconfig="separate")
        assert client.post("/predict", files={"file": ("rgb.tif", rgb)}).is_success
        two = rng.random((2, 40, 48), dtype=np.float32)
        refused = client.post("/predict", files={"file": ("two.tif", tiff_bytes(two))})
        assert refused.status_code == 422 and refused.json()["detail"]["record_bands"] == [4, 3, 2]
        rgb8 = png_bytes(np.zeros((40, 48, 3), np.uint8))
        refused = client.post("/predict", files={"file": ("rgb.png", rgb8)})
        assert refused.status_code == 422 and "pixel type" in refused.json()["error"]

        job = client.post("/jobs", files={"file": ("s2.tif", tiff_bytes(five))}).json()
        while (job := client.get(f"/jobs/{job['id']}").json())["stage"] not in ("done", "error"):
            time.sleep(0.02)
        preview = client.get(job["result"]["images"]["input"])
        assert Image.open(BytesIO(preview.content)).size == (48, 40)
    assert list(upload_root.iterdir()) == []
