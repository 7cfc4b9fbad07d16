"""``pixelwise predict``: tiled inference on files or folders of any size."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from pixelwise.tiling import Normalization, predict_file, predict_tensor
from pixelwise.training.inference import LoadedModel, load_trained_model, pick_device

SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def _expand(inputs: list[str]) -> list[Path]:
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
            if not found:
                raise FileNotFoundError(f"folder {path} holds no images ({', '.join(SUFFIXES)})")
            paths.extend(found)
        elif path.is_file():
            paths.append(path)
        else:
            raise FileNotFoundError(f"input {path} does not exist")
    return paths


def _colors(loaded: LoadedModel) -> list[tuple[int, int, int]]:
    from pixelwise.data import default_palette

    return default_palette(max(loaded.num_classes, 2))


def _predict_with_crf(
    loaded: LoadedModel, path: Path, out_dir: Path, args: argparse.Namespace, device: torch.device
) -> Path:
    from PIL import Image

    from pixelwise.crf import dense_crf
    from pixelwise.data import read_array

    image = read_array(path)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[0] * image.shape[1] > 4096 * 4096:
        raise ValueError(
            f"{path} is {image.shape[0]}x{image.shape[1]}: --crf holds the whole image in memory "
            "and works on images up to 4096x4096; drop --crf for larger rasters"
        )
    norm = Normalization(1 / 255, loaded.mean, loaded.std)
    probs = predict_tensor(
        loaded.model,
        image,
        tile=args.tile,
        overlap=args.overlap,
        blend=args.blend,
        batch_size=args.batch_size,
        tta=args.tta,
        layout="HWC",
        device=device,
        normalization=norm,
    )
    rgb = image[..., :3] if image.shape[-1] >= 3 else np.repeat(image, 3, axis=-1)
    refined = dense_crf(probs.cpu(), torch.from_numpy(np.array(rgb, dtype=np.uint8)))
    labels = refined.argmax(0).numpy().astype(np.uint8)
    out = out_dir / f"{path.stem}_labels_crf.png"
    picture = Image.fromarray(labels, mode="P")
    palette = [c for color in _colors(loaded) for c in color]
    picture.putpalette(palette + [0] * (768 - len(palette)))
    picture.save(out)
    return out


def run_predict(args: argparse.Namespace) -> int:
    if args.tile < 2 * args.overlap + 1:
        raise ValueError(
            f"--tile {args.tile} must be larger than twice --overlap {args.overlap}; raise the "
            "tile or lower the overlap"
        )
    device = pick_device(args.device)
    loaded = load_trained_model(args.checkpoint, device)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in _expand(args.inputs):
        if args.crf:
            written = [_predict_with_crf(loaded, path, out_dir, args, device)]
        else:
            written = predict_file(
                loaded.model,
                path,
                out_dir,
                tile=args.tile,
                overlap=args.overlap,
                blend=args.blend,
                tta=args.tta,
                batch_size=args.batch_size,
                device=device,
                num_classes=max(loaded.num_classes, 1),
                output=args.output,
                colors=_colors(loaded),
                normalization=Normalization(1 / 255, loaded.mean, loaded.std),
            )
        for item in written:
            print(f"wrote {item}")
    return 0
