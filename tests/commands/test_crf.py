"""CRF parameter search on validation images: probabilities once, every grid point scored."""

from __future__ import annotations

from pathlib import Path

import torch

from pixelwise.commands import crf as crf_search
from pixelwise.crf import dense_crf
from pixelwise.training import DistInfo, Trainer, build_data, config_from_dict, evaluate_model
from pixelwise.training.evaluation import denormalize, predict_probabilities
from training_helpers import tiny_config


def test_search_scores_each_setting_like_a_full_evaluation(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(
        crf_search, "GRID", {"compat_bilateral": (1.0, 10.0), "sxy_bilateral": (20.0,),
                             "srgb": (5.0,)},
    )  # fmt: skip
    config = config_from_dict(tiny_config(tmp_path / "run", train={"epochs": 2}))
    trainer = Trainer(config)
    trainer.fit()
    model, device = trainer.model.eval(), torch.device("cpu")
    bundle = build_data(config, DistInfo())
    best, records = crf_search.search_crf(model, bundle, device, num_images=len(bundle.val))
    assert records[0]["params"] is None and len(records) == 3
    for record in records:
        refine = None if record["params"] is None else crf_search.crf_refiner(record["params"])
        result = evaluate_model(model, bundle, device, DistInfo(), progress=False, refine=refine)
        assert abs(100 * result.report.summary()["mean_iou"] - record["val_mIoU"]) < 1e-6
    assert best == max(records[1:], key=lambda r: r["val_mIoU"])["params"]
    # The strong setting really changes the labels (the grid is not a no-op).
    image, mask = bundle.val_transform(*bundle.val[0])
    probs = predict_probabilities(model, image[None])[0]
    rgb = torch.from_numpy(denormalize(image, bundle.mean, bundle.std))
    strong = dense_crf(probs, rgb, compat_bilateral=50.0, sxy_bilateral=20.0, srgb=5.0)
    assert (strong.argmax(0) != probs.argmax(0)).any()
