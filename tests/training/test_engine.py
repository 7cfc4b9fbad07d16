"""End-to-end: train, evaluate, resume, predict, export through the CLI on tiny synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from pixelwise.cli import main
from pixelwise.training.checkpoint import load_checkpoint
from pixelwise.training.config import config_from_dict
from pixelwise.training.trainer import NonFiniteLossError, Trainer
from training_helpers import tiny_config


def test_train_evaluate_resume_predict_export(write_config, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config_path = write_config(train={"epochs": 1, "plots": True})
    assert main(["train", str(config_path)]) == 0
    run = tmp_path / "run"
    for name in (
        "last.pt",
        "best.pt",
        "config.yaml",
        "log.jsonl",
        "curves.png",
        "confusion_matrix.png",
        "overlays.png",
    ):
        assert (run / name).is_file(), name
    checkpoint = torch.load(run / "last.pt", weights_only=True)
    assert checkpoint["state"]["epoch"] == 1
    assert checkpoint["format"] == "pixelwise-checkpoint-2"
    names = [c["name"] for c in checkpoint["record"]["classes"]["classes"]]
    assert names == ["background", "field", "building", "road", "car"]
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(records) == 1 and 0.0 <= records[0]["mean_iou"] <= 1.0

    # Resume to a longer schedule: continues at epoch 2, appends to the log.
    assert main(["train", "--resume", str(run), "--set", "train.epochs=2"]) == 0
    assert load_checkpoint(run / "last.pt")["state"]["epoch"] == 2
    assert len((run / "log.jsonl").read_text().splitlines()) == 2

    capsys.readouterr()
    assert main(["evaluate", str(run / "best.pt"), "--boundary"]) == 0
    out = capsys.readouterr().out
    assert "road" in out and "mean_iou" in out
    result = json.loads((run / "eval_val.json").read_text())
    assert len(result["per_class"]) == 5 and "boundary_f1" in result["summary"]
    assert np.asarray(result["confusion_matrix"]).sum() == 4 * 32 * 32

    image = (np.random.default_rng(0).random((45, 70, 3)) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "scene.png")
    args = [
        "predict",
        str(run / "best.pt"),
        str(tmp_path / "scene.png"),
        "--out",
        str(tmp_path / "pred"),
        "--tile",
        "32",
        "--overlap",
        "8",
        "--blend",
        "crop",
    ]
    assert main(args) == 0
    labels = np.asarray(Image.open(tmp_path / "pred" / "scene_labels.png"))
    assert labels.shape == (45, 70) and labels.max() < 5

    assert (
        main(
            [
                "export",
                str(run / "best.pt"),
                "--format",
                "torchscript",
                "--out",
                str(tmp_path / "model.ts"),
                "--size",
                "32",
                "32",
            ]
        )
        == 0
    )
    scripted = torch.jit.load(str(tmp_path / "model.ts"))
    assert scripted(torch.zeros(1, 3, 32, 32)).shape == (1, 5, 32, 32)


def test_onnx_export_matches_pytorch(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import onnxruntime  # the [export] extra, part of [dev]

    assert main(["train", str(write_config(train={"epochs": 1}))]) == 0
    onnx_path = tmp_path / "model.onnx"
    assert (
        main(
            [
                "export",
                str(tmp_path / "run" / "best.pt"),
                "--out",
                str(onnx_path),
                "--size",
                "32",
                "32",
            ]
        )
        == 0
    )
    from pixelwise.training.inference import load_trained_model

    loaded = load_trained_model(tmp_path / "run" / "best.pt")
    x = torch.randn(2, 3, 48, 40)  # dynamic batch and size
    expected = loaded.model(x).detach().numpy()
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": x.numpy()})
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path: Path) -> None:
    config = config_from_dict(tiny_config(tmp_path / "run", train={"epochs": 2}))
    trainer = Trainer(config)
    trainer.fit()
    good = load_checkpoint(tmp_path / "run" / "last.pt")
    config.train.epochs = 3
    resumed = Trainer(config, resume=tmp_path / "run")
    calls = {"n": 0}
    original = resumed.criterion

    def poisoned(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss = original(logits, target)
        return loss * float("nan") if calls["n"] == 2 else loss

    resumed.criterion = poisoned  # type: ignore[assignment]
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 3, step 2"):
        resumed.fit()
    after = load_checkpoint(tmp_path / "run" / "last.pt")
    assert after["state"]["epoch"] == 2
    for key, value in good["model"].items():
        assert torch.equal(after["model"][key], value), key


def test_folder_dataset_errors_reach_the_user(tmp_path: Path) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for stem in ("a", "b"):
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(images / f"{stem}.png")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(masks / "a.png")
    Image.fromarray(np.full((16, 16), 7, np.uint8)).save(masks / "b.png")
    classes = tmp_path / "classes.yaml"
    classes.write_text(
        yaml.safe_dump(
            {
                "classes": [
                    {"name": "bg", "color": [0, 0, 0]},
                    {"name": "fg", "color": [255, 255, 255]},
                ]
            }
        )
    )
    folder = {
        "dataset": "folder",
        "train_images": str(images),
        "train_masks": str(masks),
        "val_images": str(images),
        "val_masks": str(masks),
        "classes": str(classes),
        "batch_size": 2,
    }
    config = config_from_dict(tiny_config(tmp_path / "run", data=folder))
    with pytest.raises(ValueError, match=r"b\.png.*7"):
        Trainer(config).fit()


def test_evaluate_and_predict_with_dense_crf(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert main(["train", str(write_config(train={"epochs": 1}))]) == 0
    best = tmp_path / "run" / "best.pt"
    assert main(["evaluate", str(best), "--crf", "--out", str(tmp_path / "crf.json")]) == 0
    with_crf = json.loads((tmp_path / "crf.json").read_text())
    assert with_crf["crf"] is True
    assert np.asarray(with_crf["confusion_matrix"]).sum() == 4 * 32 * 32
    image = (np.random.default_rng(1).random((40, 50, 3)) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "scene.png")
    assert (
        main(
            [
                "predict",
                str(best),
                str(tmp_path / "scene.png"),
                "--out",
                str(tmp_path / "p"),
                "--tile",
                "32",
                "--overlap",
                "8",
                "--crf",
            ]
        )
        == 0
    )
    labels = np.asarray(Image.open(tmp_path / "p" / "scene_labels_crf.png"))
    assert labels.shape == (40, 50) and labels.max() < 5


def test_patch_wise_training_on_large_rasters(tmp_path: Path) -> None:
    import tifffile

    from pixelwise.data import SYNTHETIC_CLASSES, synthetic_raster

    paths: dict[str, list[str]] = {"images": [], "masks": []}
    for seed in (1, 2):
        image, mask = synthetic_raster(200, 300, seed=seed)
        tifffile.imwrite(tmp_path / f"scene{seed}.tif", image, photometric="rgb")
        tifffile.imwrite(tmp_path / f"scene{seed}_mask.tif", mask.astype(np.uint8))
        paths["images"].append(str(tmp_path / f"scene{seed}.tif"))
        paths["masks"].append(str(tmp_path / f"scene{seed}_mask.tif"))
    SYNTHETIC_CLASSES.to_yaml(tmp_path / "classes.yaml")
    data = {
        "dataset": "rasters",
        "classes": str(tmp_path / "classes.yaml"),
        "train_rasters": paths["images"][:1],
        "train_raster_masks": paths["masks"][:1],
        "val_rasters": paths["images"][1:],
        "val_raster_masks": paths["masks"][1:],
        "patch_size": 64,
        "patches_per_epoch": 8,
        "patch_sampling": "class_aware",
    }
    config = config_from_dict(tiny_config(tmp_path / "run", data=data))
    trainer = Trainer(config)
    record = trainer.fit()
    assert record["epoch"] == 2 and 0.0 <= record["mean_iou"] <= 1.0
    # Validation covers the 200x300 raster with a 4 x 5 grid of 64x64 patches (edges padded).
    assert len(trainer.data.val) == 20
    # Each epoch draws new random windows.
    patches = trainer.data.train
    patches.set_epoch(0)
    first = [patches.locate(i) for i in range(8)]
    patches.set_epoch(1)
    assert first != [patches.locate(i) for i in range(8)]
    with pytest.raises(Exception, match="one mask per raster"):
        config_from_dict(tiny_config(tmp_path / "run2", data={**data, "val_raster_masks": []}))


@pytest.mark.parametrize(("aux_weight", "expected"), [(None, 1.0 + 0.5 * 3.0), (0.0, 1.0),
                                                      (0.25, 1.0 + 0.25 * 3.0)])  # fmt: skip
def test_config_aux_weight_wins_over_the_model_default(
    tmp_path: Path, aux_weight: float | None, expected: float
) -> None:
    """``loss.aux_weight`` from the config weights the aux loss; unset, the model's value."""
    from torch import nn

    class WithAux(nn.Module):
        aux_weight = 0.5  # e.g. DeepLab v3's torchvision value

    trainer = Trainer.__new__(Trainer)  # only what _loss reads
    trainer.config = config_from_dict(tiny_config(tmp_path, loss={"aux_weight": aux_weight}))
    trainer.model = WithAux()
    trainer.criterion = lambda logits, target: logits.mean()
    main_logits, aux_logits = torch.ones(1, 2, 2, 2), torch.full((1, 2, 2, 2), 3.0)
    loss = trainer._loss((main_logits, aux_logits), torch.zeros(1, 2, 2, dtype=torch.long))
    assert float(loss) == pytest.approx(expected)
