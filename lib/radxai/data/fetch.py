"""Download a real dataset where its source allows direct download, checking hashes.

Only the downloads listed in a dataset's manifest are fetched, with pooch:
- a ``url`` download is checked against the publisher's sha256 when the manifest has one,
  otherwise against the sha256 recorded in the dataset's registry by the first download
  (trust on first use: the first download's hash is recorded, every later one must match),
  and against the published size when known; archives are unpacked into the dataset root;
- a ``doi`` download takes the record's file list and checksums from the repository
  (Zenodo publishes an MD5 per file) and fetches the files named in the manifest (or asked
  for), unpacking archives into the dataset root.

Datasets behind credentialed access (PhysioNet) or without any direct download raise
``DownloadNotPossible`` with the manifest's instructions; nothing is downloaded.
Archives of url downloads are kept in ``<root>/.radxai-downloads/`` and the files of a doi
record in the root itself, so a repeated fetch does not download again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pooch

from radxai.data.manifests import Download, Manifest, load_manifest
from radxai.data.verify import default_registry_path, read_registry, sha256_file, update_registry

__all__ = [
    "DOWNLOAD_FOLDER",
    "check_archive_members",
    "CredentialedAccessError",
    "DownloadError",
    "DownloadNotPossible",
    "fetch_dataset",
]

DOWNLOAD_FOLDER = ".radxai-downloads"
_ARCHIVE_SUFFIXES = {".zip": "zip", ".tar": "tar", ".tar.gz": "tar", ".tgz": "tar"}


class DownloadNotPossible(RuntimeError):
    """The dataset cannot be downloaded by radxai; the message says how to obtain it."""


class CredentialedAccessError(DownloadNotPossible):
    """The dataset needs credentialed access and a signed data use agreement."""


class DownloadError(RuntimeError):
    """A download failed its size check or named a file its record does not hold."""


def fetch_dataset(
    name: str, root: str | Path, files: Sequence[str] | None = None, progress: bool = False
) -> list[Path]:
    """Download dataset ``name`` into ``root`` as its manifest allows; return the local files.

    files: only these file names (url downloads: the manifest's ``file``; doi downloads: the
    record's file names); default every file the manifest lists. Returns the downloaded (or
    already present) files, archives included. Raises ``CredentialedAccessError`` or
    ``DownloadNotPossible`` (with instructions) when the source allows no direct download,
    ``DownloadError`` for a size mismatch or an unknown file, and pooch's errors for a hash
    mismatch or a failed transfer.
    """
    manifest = load_manifest(name)
    if manifest.access_kind == "credentialed":
        raise CredentialedAccessError(
            _instructions(
                manifest,
                "needs credentialed access and a signed data use agreement, so radxai cannot download it for you",
            )
        )
    if not manifest.downloads:
        raise DownloadNotPossible(_instructions(manifest, "has no direct download"))
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    wanted = set(files) if files else None
    fetched: list[Path] = []
    for download in manifest.downloads:
        if download.url is not None:
            if wanted is None or download.file in wanted:
                fetched.append(_fetch_url(manifest, download, root, progress))
        else:
            fetched.extend(_fetch_doi(download, root, wanted, progress))
    if wanted is not None and not fetched:
        listed = [download.file for download in manifest.downloads if download.file]
        raise DownloadError(
            f"{manifest.path}: none of {sorted(wanted)} is a download of "
            f"{name} (url downloads: {listed}; doi records list their own files)"
        )
    return fetched


def _instructions(manifest: Manifest, reason: str) -> str:
    return (
        f"{manifest.title} {reason}.\n"
        f"  access: {manifest.access_kind} - {manifest.access.get('url', manifest.source['homepage'])}\n"
        f"  licence: {manifest.licence['name']}\n"
        f"  how to obtain it: {manifest.access['instructions'].strip()}\n"
        f"  manifest: {manifest.path}"
    )


def _fetch_url(manifest: Manifest, download: Download, root: Path, progress: bool) -> Path:
    registry_path = default_registry_path(root)
    recorded = read_registry(registry_path)["downloads"].get(download.file)
    known = download.sha256 or recorded
    folder = root / DOWNLOAD_FOLDER
    archive = Path(
        pooch.retrieve(
            url=download.url,
            known_hash=f"sha256:{known}" if known else None,
            fname=download.file,
            path=folder,
            progressbar=progress,
        )
    )
    size = archive.stat().st_size
    if download.size_bytes is not None and size != download.size_bytes:
        raise DownloadError(
            f"{archive}: {size} bytes, but {manifest.path} gives {download.size_bytes} for "
            f"{download.url}; delete the file and fetch again"
        )
    if known is None:
        update_registry(registry_path, manifest.name, downloads={download.file: sha256_file(archive)})
    if download.extract is not None:
        # The archive sits in <root>/.radxai-downloads, so ".." unpacks it into the root.
        _extract(archive, download.extract, "..")
    return archive


def _fetch_doi(download: Download, root: Path, wanted: set[str] | None, progress: bool) -> list[Path]:
    # The record's files go straight into the dataset root, where the loaders look for them.
    record = pooch.create(path=root, base_url=f"doi:{download.doi}/", registry=None)
    record.load_registry_from_doi()
    available = set(record.registry)
    names = sorted(wanted) if wanted is not None else list(download.files or sorted(available))
    unknown = [name for name in names if name not in available]
    if unknown:
        raise DownloadError(f"doi:{download.doi} holds no files named {unknown}; it holds {sorted(available)[:30]}")
    fetched = []
    for name in names:
        path = Path(record.fetch(name, progressbar=progress))
        kind = _archive_kind(name)
        if kind is not None:
            _extract(path, kind, ".")
        fetched.append(path)
    return fetched


def _archive_kind(name: str) -> str | None:
    lowered = name.lower()
    for suffix, kind in _ARCHIVE_SUFFIXES.items():
        if lowered.endswith(suffix):
            return kind
    return None


def _extract(archive: Path, kind: str, destination: str) -> list[str]:
    """Unpack ``archive`` into ``destination``, a folder relative to the archive's folder, after
    checking that every member stays inside it (`check_archive_members`)."""
    check_archive_members(archive, kind, archive.parent / destination)
    extractor = pooch.Unzip(extract_dir=destination) if kind == "zip" else pooch.Untar(extract_dir=destination)
    # "fetch" extracts only when a member is missing, so a repeated fetch keeps local edits.
    return extractor(str(archive), "fetch", None)


def check_archive_members(archive: Path, kind: str, destination: Path) -> None:
    """Refuse an archive with a member that would land outside ``destination``: an absolute path,
    a ``..`` escape, any symbolic or hard link (links can be chained so that each looks harmless
    alone), a device file (tar's "data" filter rules, PEP 706).

    pooch applies that filter only from Python 3.12 on; here (3.11) an archive could otherwise
    write anywhere the user can. Nothing is extracted when one member is refused.

    Raises
    ------
    DownloadError
        Naming the archive, the member and why it is refused.
    """
    import tarfile
    import zipfile

    root = destination.resolve()
    if kind == "zip":
        with zipfile.ZipFile(archive) as content:
            for name in content.namelist():
                target = (root / name).resolve()
                if Path(name).is_absolute() or not target.is_relative_to(root):
                    raise DownloadError(
                        f"{archive}: member {name!r} would be written outside {root}; nothing was extracted"
                    )
        return
    with tarfile.open(archive) as content:
        for member in content.getmembers():
            if member.issym() or member.islnk():
                # Judged one by one before extraction, links can be chained (a -> ., b -> a/..) so
                # that a later member lands outside; a dataset's archive needs no links at all.
                raise DownloadError(
                    f"{archive}: member {member.name!r} is a link ({member.linkname!r}); "
                    f"dataset archives with links are refused; nothing was extracted"
                )
            try:
                if Path(member.name).is_absolute():
                    # The data filter would strip the slash and extract it into the root; an
                    # archive naming absolute paths is not a dataset's archive.
                    raise tarfile.AbsolutePathError(member)
                tarfile.data_filter(member, str(root))
            except tarfile.FilterError as error:
                raise DownloadError(
                    f"{archive}: member {member.name!r} refused ({error}); nothing was extracted"
                ) from error
