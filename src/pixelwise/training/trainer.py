"""One explicit training loop: AMP, clipping, aux losses, evaluation, atomic resumable
checkpoints, early stopping, and DDP under ``torchrun``."""

from __future__ import annotations

import json
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from pixelwise.models.rescale import with_input_scale
from pixelwise.record import CHECKPOINT_FORMAT
from pixelwise.registry import create_model
from pixelwise.training.checkpoint import load_checkpoint, rng_state, save_atomic, set_rng_state
from pixelwise.training.config import Config
from pixelwise.training.config_schema import ConfigError
from pixelwise.training.data_setup import DataBundle, build_data, epoch_batches, make_loader
from pixelwise.training.distributed import all_reduce_mean, barrier, init_distributed
from pixelwise.training.evaluation import EvaluationResult, evaluate_model
from pixelwise.training.inference import make_record
from pixelwise.training.losses_setup import build_criterion
from pixelwise.training.optim import build_optimizer, build_scheduler, model_encoder
from pixelwise.training.progress import progress_bar

LAST = "last.pt"
BEST = "best.pt"


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


@dataclass
class TrainState:
    epoch: int = 0  # epochs fully completed
    step_in_epoch: int = 0  # batches done in the current (unfinished) epoch
    global_step: int = 0
    best_miou: float = -1.0
    best_epoch: int = -1
    epochs_without_improvement: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``train.precision`` on ``device`` (None: plain float32)."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type != "cuda":
        raise ValueError(
            f"train.precision={precision!r} needs a CUDA device (this run uses {device}); "
            "use bf16 or fp32 on the CPU"
        )
    return torch.float16


class Trainer:
    """Train ``config.model`` on ``config.data``; writes ``output_dir/{last,best}.pt``,
    ``config.yaml``, ``log.jsonl`` and plots.

    Example:
        >>> Trainer(load_config("configs/demo.yaml")).fit()  # doctest: +SKIP
    """

    def __init__(self, config: Config, *, resume: str | Path | None = None) -> None:
        self.config = config
        self.dist, self.device = init_distributed(config.train.device)
        self.output_dir = Path(resume) if resume else Path(config.train.output_dir)
        torch.manual_seed(config.train.seed)
        if config.train.deterministic:
            torch.backends.cudnn.benchmark = False
        self.data: DataBundle = build_data(config, self.dist)
        model = create_model(
            config.model.name,
            num_classes=self.data.num_classes,
            in_channels=self.data.in_channels,
            **config.model.options,
        ).to(self.device)
        self.memory_format = (
            torch.channels_last if config.train.channels_last else torch.contiguous_format
        )
        model = model.to(memory_format=self.memory_format)  # type: ignore[call-overload]  # stubs lack memory_format
        self.record = make_record(config, self.data, num_outputs=self.data.num_classes)
        self.model: nn.Module = model
        self.encoder = model_encoder(model)
        if self.encoder is None and (
            config.optim.encoder_lr is not None or config.train.freeze_encoder_epochs
        ):
            raise ConfigError(
                f"model {config.model.name!r} has no encoder to fine-tune; remove "
                "optim.encoder_lr and train.freeze_encoder_epochs (or choose an encoder model)"
            )
        self.encoder_frozen = False
        self._wrap_distributed()
        self.criterion = build_criterion(config.loss, self.data, self.device)
        self.optimizer = build_optimizer(model, config.optim)
        self.steps_per_epoch = len(epoch_batches(self.data, config, self.dist, epoch=0))
        if config.train.max_steps_per_epoch:
            self.steps_per_epoch = min(self.steps_per_epoch, config.train.max_steps_per_epoch)
        self.total_steps = self.steps_per_epoch * config.train.epochs
        self.scheduler = build_scheduler(self.optimizer, self.total_steps, config.optim)
        self.autocast_dtype = autocast_dtype(config.train.precision, self.device)
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.autocast_dtype == torch.float16 and self.device.type == "cuda"
        )
        self.state = TrainState()
        self.last_evaluation: EvaluationResult | None = None
        if resume:
            self._load(self.output_dir / LAST)
        if self.dist.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            config.save(self.output_dir / "config.yaml")
            log = self.output_dir / "log.jsonl"
            if not resume and log.exists():
                # A fresh run in a used folder: keep the old epochs' log, out of the new one's.
                log.replace(self.output_dir / "log.previous.jsonl")

    def _wrap_distributed(self) -> None:
        """(Re-)wrap the model in DDP, which registers the parameters that take gradients."""
        if self.dist.enabled:
            model = _unwrap(self.model)
            self.model = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )

    def _freeze_encoder(self, frozen: bool) -> None:
        """Fix (or release) the encoder's weights; its BatchNorm statistics stay fixed too."""
        if self.encoder is None:
            return
        if frozen != self.encoder_frozen:
            self.encoder.requires_grad_(not frozen)
            self.encoder_frozen = frozen
            self._wrap_distributed()
        if frozen:
            self.encoder.eval()

    # -- checkpoints -------------------------------------------------------------------------
    def _payload(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "record": self.record.to_dict(),
            "model": _unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "state": {
                "epoch": self.state.epoch,
                "step_in_epoch": self.state.step_in_epoch,
                "global_step": self.state.global_step,
                "best_miou": self.state.best_miou,
                "best_epoch": self.state.best_epoch,
                "epochs_without_improvement": self.state.epochs_without_improvement,
                "history_json": json.dumps(self.state.history),
            },
            "rng": rng_state(),
            "config": self.config.to_dict(),
            "command": " ".join(shlex.quote(arg) for arg in sys.argv),
        }

    def _save(self, name: str) -> None:
        if self.dist.is_main:
            save_atomic(self._payload(), self.output_dir / name)

    def _load(self, path: Path) -> None:
        checkpoint = load_checkpoint(path, map_location=self.device)
        _unwrap(self.model).load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.scaler.load_state_dict(checkpoint["scaler"])
        saved = dict(checkpoint["state"])
        history = json.loads(saved.pop("history_json"))
        self.state = TrainState(**saved, history=history)
        set_rng_state(checkpoint["rng"])

    # -- loop ----------------------------------------------------------------------------------
    def _loss(self, output: Tensor | tuple[Tensor, Tensor], target: Tensor) -> Tensor:
        if isinstance(output, tuple):
            logits, aux_logits = output
            aux_weight = self.config.loss.aux_weight
            if aux_weight is None:  # the model's paper value, else torchvision's 0.4
                aux_weight = float(getattr(_unwrap(self.model), "aux_weight", 0.4))
            main_loss = self.criterion(logits.float(), target)
            return main_loss + aux_weight * self.criterion(aux_logits.float(), target)
        # Losses run in float32 even under autocast: softmax, logs and sums of small terms.
        return self.criterion(output.float(), target)

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        config = self.config
        self.model.train()
        self._freeze_encoder(epoch < config.train.freeze_encoder_epochs)
        batches = epoch_batches(self.data, config, self.dist, epoch=epoch)[: self.steps_per_epoch]
        start_step = self.state.step_in_epoch
        loader = make_loader(self.data, batches[start_step:], epoch=epoch, config=config)
        bar = progress_bar(
            loader,
            total=len(batches),
            initial=start_step,
            desc=f"epoch {epoch + 1}/{config.train.epochs}",
            enabled=config.train.progress and self.dist.is_main,
        )
        loss_sum, seen_images, started = 0.0, 0, time.perf_counter()
        for images, targets in bar:
            images = images.to(self.device, non_blocking=True)
            images = images.contiguous(memory_format=self.memory_format)
            targets = targets.to(self.device, non_blocking=True)
            with torch.autocast(
                self.device.type,
                dtype=self.autocast_dtype or torch.float32,
                enabled=self.autocast_dtype is not None,
            ):
                output = self.model(images)
                loss = self._loss(output, targets)
            if not torch.isfinite(loss.detach()):
                raise NonFiniteLossError(
                    f"loss is {loss.item()} at epoch {epoch + 1}, "
                    f"step {self.state.step_in_epoch + 1}"
                    f" (global step {self.state.global_step + 1}); the run stopped and kept the "
                    f"last good checkpoint in {self.output_dir / LAST}. Lower optim.lr, enable "
                    "optim.grad_clip, or check the labels and class weights."
                )
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if config.optim.grad_clip:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), config.optim.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            self.state.step_in_epoch += 1
            self.state.global_step += 1
            loss_sum += float(loss.detach()) * images.shape[0]
            seen_images += images.shape[0] * self.dist.world_size
            elapsed = max(time.perf_counter() - started, 1e-9)
            lr = self.optimizer.param_groups[0]["lr"]
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(
                    loss=f"{loss.item():.4f}", lr=f"{lr:.2e}", ips=f"{seen_images / elapsed:.1f}"
                )
            every = config.train.checkpoint_every_steps
            if every and self.state.step_in_epoch % every == 0:
                self._save(LAST)
        elapsed = time.perf_counter() - started
        local_images = max(1, seen_images // self.dist.world_size)
        return {
            "train_loss": all_reduce_mean(loss_sum / local_images, self.dist, self.device),
            "lr": self.optimizer.param_groups[0]["lr"],
            "images_per_s": seen_images / max(elapsed, 1e-9),
            "epoch_time_s": elapsed,
        }

    def fit(self) -> dict[str, Any]:
        """Run the remaining epochs; returns the last epoch's log record."""
        config = self.config
        record: dict[str, Any] = {}
        fit_started = time.perf_counter()
        for epoch in range(self.state.epoch, config.train.epochs):
            record = {"epoch": epoch + 1, **self._train_epoch(epoch)}
            self.state.epoch = epoch + 1
            self.state.step_in_epoch = 0
            stop = improved = False
            if (epoch + 1) % config.train.eval_every == 0 or epoch + 1 == config.train.epochs:
                report = evaluate_model(
                    with_input_scale(self.model, config.data.input_scale),
                    self.data,
                    self.device,
                    self.dist,
                    batch_size=config.data.val_batch_size,
                    progress=False,
                    keep_samples=4,
                )
                self.last_evaluation = report
                record.update(report.summary())
                miou = report.summary()["mean_iou"]
                if miou is not None and not math.isnan(miou) and miou > self.state.best_miou:
                    self.state.best_miou, self.state.best_epoch = miou, epoch + 1
                    self.state.epochs_without_improvement = 0
                    improved = True
                else:
                    self.state.epochs_without_improvement += 1
                    patience = config.train.early_stopping
                    stop = bool(patience) and self.state.epochs_without_improvement >= patience
            self.state.history.append(record)  # before saving: best.pt holds its own epoch
            if improved:
                self._save(BEST)
            self._save(LAST)
            if self.dist.is_main:
                with (self.output_dir / "log.jsonl").open("a") as log:
                    log.write(json.dumps(record) + "\n")
            barrier(self.dist)
            minutes = (time.perf_counter() - fit_started) / 60
            if config.train.max_minutes is not None and minutes >= config.train.max_minutes:
                if self.dist.is_main:
                    print(
                        f"time budget of {config.train.max_minutes} min reached after epoch "
                        f"{epoch + 1}; resume with a larger train.max_minutes to continue"
                    )
                break
            if stop:
                if self.dist.is_main:
                    print(
                        f"early stopping after epoch {epoch + 1}: "
                        f"no mIoU gain for {patience} evaluations"
                    )
                break
        if self.dist.is_main and config.train.plots:
            from pixelwise.training.reporting import write_training_plots

            write_training_plots(self.output_dir, self.state.history)
            if self.last_evaluation is not None:
                self._write_evaluation_plots(self.last_evaluation)
        return record

    def _write_evaluation_plots(self, result: EvaluationResult) -> None:
        """Normalised confusion matrix and validation overlays of the last evaluation."""
        from pixelwise.training.reporting import plot_confusion_matrix, plot_overlays

        names = result.report.class_names
        plot_confusion_matrix(result.confusion, names, self.output_dir / "confusion_matrix.png")
        if result.samples:
            plot_overlays(
                result.samples,
                self.record.labels.colors,
                self.output_dir / "overlays.png",
                ignore_index=self.data.ignore_index,
            )
