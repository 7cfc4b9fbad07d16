"""Checksummed downloads and safe extraction (stdlib only: ``urllib`` also handles ``file://``).

Two kinds of checksum are used:

* the archive's SHA-256 (``download_url(..., sha256=...)``), checked while streaming; on a
  mismatch the partial/corrupt file is deleted and :class:`ChecksumError` is raised. Without a
  known checksum the digest is computed and printed so it can be pinned next time.
* a *content* digest of an extracted folder (:func:`folder_digest`): SHA-256 over the sorted
  ``relative path + file SHA-256`` lines. It does not depend on how an archive was compressed,
  so it stays valid when a host (e.g. GitHub's on-the-fly ``/archive/<commit>.zip``) re-creates
  the archive with different bytes but the same files.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
import warnings
import zipfile
from pathlib import Path, PurePosixPath

_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A downloaded file or extracted folder does not have the expected SHA-256."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def folder_digest(folder: str | Path) -> str:
    """Content digest of every file under ``folder`` (names and bytes; order-independent)."""
    folder = Path(folder)
    lines = sorted(
        f"{path.relative_to(folder).as_posix()}\t{sha256_file(path)}\n"
        for path in folder.rglob("*")
        if path.is_file()
    )
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def download_url(
    url: str, destination: str | Path, *, sha256: str | None = None, quiet: bool = False
) -> str:
    """Stream ``url`` to ``destination`` and return the file's SHA-256 (hex).

    The data goes to ``destination + '.part'`` first and is renamed only once complete and
    verified, so an interrupted or corrupt download never looks like a finished one.

    Raises:
        ChecksumError: ``sha256`` is given and differs from the download (the file is deleted).
        urllib.error.URLError / OSError: the transfer failed (the partial file is deleted).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url) as response, open(partial, "wb") as handle:  # noqa: S310
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                handle.write(chunk)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    actual = digest.hexdigest()
    if sha256 is not None and actual.lower() != sha256.lower():
        partial.unlink(missing_ok=True)
        raise ChecksumError(
            f"checksum mismatch for {url}: expected sha256 {sha256.lower()}, got {actual}. The "
            f"download is corrupt or the file changed upstream; deleted {partial}. Retry, or pass "
            "the new checksum after checking the source."
        )
    if sha256 is None and not quiet:
        message = (
            f"downloaded {url} without a known checksum: sha256 {actual}. Pass sha256='{actual}' "
            "to verify future downloads."
        )
        print(message)
        warnings.warn(message, stacklevel=2)
    partial.replace(destination)
    return actual


def extract_zip_folder(archive: str | Path, folder_name: str, destination: str | Path) -> Path:
    """Extract only the members under the first ``folder_name/`` found in ``archive`` (at the top
    or below one wrapper folder, as in GitHub archives) into ``destination/folder_name``.

    Raises:
        ValueError: the archive has no such folder, or a member would escape ``destination``.
    """
    destination = Path(destination)
    target = (destination / folder_name).resolve()
    extracted = 0
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            parts = PurePosixPath(member.filename).parts
            if folder_name not in parts[:2]:
                continue
            relative = parts[parts.index(folder_name) + 1 :]
            if not relative or member.is_dir():
                continue
            if ".." in relative or PurePosixPath(*relative).is_absolute():
                raise ValueError(f"{archive}: unsafe member path {member.filename!r}")
            output = target.joinpath(*relative)
            output.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(member) as source, open(output, "wb") as sink:
                shutil.copyfileobj(source, sink, _CHUNK)
            extracted += 1
    if extracted == 0:
        raise ValueError(f"{archive} has no '{folder_name}/' folder at its top two levels")
    return target
