"""Checkpoint download with a progress bar, resume of partial files, a cache and sha256."""

from __future__ import annotations

import dataclasses
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tf_videoswin.errors import DownloadError
from tf_videoswin.files import atomic_write_text, replace_file, sha256_file

logger = logging.getLogger(__name__)

CACHE_ENV = "VIDEOSWIN_CACHE"

__all__ = [
    "CACHE_ENV",
    "DownloadError",
    "ExpectedDigest",
    "default_cache_dir",
    "download",
    "fetch_checkpoint",
    "sha256_file",
]


def default_cache_dir() -> Path:
    """``$VIDEOSWIN_CACHE`` if set, else ``~/.cache/tf_videoswin/checkpoints``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tf_videoswin" / "checkpoints"


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _write_sidecar(dest: Path, digest: str) -> None:
    atomic_write_text(dest.with_name(dest.name + ".sha256"), f"{digest}  {dest.name}\n")


def _total_from_headers(response, resumed: int) -> int | None:
    content_range = response.headers.get("Content-Range")
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    length = response.headers.get("Content-Length")
    if length is not None and length.isdigit():
        return int(length) + (resumed if response.status == 206 else 0)
    return None


@dataclasses.dataclass(frozen=True)
class ExpectedDigest:
    """What a file's sha256 must be: the full digest, a published prefix of it, or both (or nothing)."""

    full: str | None = None
    prefix: str | None = None

    @classmethod
    def of(cls, full: str | None = None, prefix: str | None = None) -> ExpectedDigest:
        return cls(full.lower() if full else None, prefix.lower() if prefix else None)

    def matches(self, digest: str) -> bool:
        return (self.full is None or digest == self.full) and (
            self.prefix is None or digest.startswith(self.prefix)
        )

    def describe(self) -> str:
        if self.full:
            return self.full
        return f"{self.prefix}... (published prefix)" if self.prefix else "anything"


def download(
    url: str,
    dest: str | os.PathLike,
    expected_sha256: str | None = None,
    progress: bool = True,
    timeout: float = 30.0,
    chunk_size: int = 1 << 20,
    expected_sha256_prefix: str | None = None,
) -> str:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), verify, and return the sha256 hex.

    ``expected_sha256`` is a full digest; ``expected_sha256_prefix`` a published prefix of it (mmaction2
    publishes the first 8 hex digits in its file names). A file that does not match is removed.
    """
    from tqdm import tqdm

    dest = Path(dest)
    expected = ExpectedDigest.of(expected_sha256, expected_sha256_prefix)
    if dest.is_file():
        digest = sha256_file(dest)
        if expected.matches(digest):
            logger.info("using cached %s", dest)
            _write_sidecar(dest, digest)
            return digest
        logger.warning(
            "cached %s has sha256 %s, expected %s: downloading again", dest, digest, expected.describe()
        )
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    resumed = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "tf-videoswin"})
    if resumed:
        request.add_header("Range", f"bytes={resumed}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and resumed:
            total = e.headers.get("Content-Range", "").rsplit("/", 1)[-1]
            if total.isdigit() and int(total) == resumed:
                return _finish(part, dest, expected, url)
        if 400 <= e.code < 500:
            part.unlink(missing_ok=True)
        raise DownloadError(f"HTTP {e.code} {e.reason} for {url}") from e
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(f"cannot reach {url}: {reason}") from e

    with response:
        if resumed and response.status != 206:
            logger.info("server ignored the range request; restarting %s from zero", dest.name)
            resumed = 0
        total = _total_from_headers(response, resumed)
        received = resumed
        bar = tqdm(
            total=total,
            initial=resumed,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=dest.name,
            disable=not progress,
        )
        try:
            with open(part, "ab" if resumed else "wb") as f:
                while chunk := response.read(chunk_size):
                    f.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except (OSError, TimeoutError) as e:
            raise DownloadError(
                f"transfer of {url} interrupted after {received} bytes ({e}); run again to resume"
            ) from e
        finally:
            bar.close()
    if total is not None and received != total:
        raise DownloadError(
            f"transfer of {url} incomplete: {received} of {total} bytes; run again to resume from {part}"
        )
    return _finish(part, dest, expected, url)


def _finish(part: Path, dest: Path, expected: ExpectedDigest, url: str) -> str:
    digest = sha256_file(part)
    if not expected.matches(digest):
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"sha256 mismatch for {url}: expected {expected.describe()}, got {digest}; file removed"
        )
    replace_file(part, dest)  # the whole, checked download, flushed to disk before it is published
    _write_sidecar(dest, digest)
    logger.info("downloaded %s (sha256 %s)", dest, digest)
    return digest


def fetch_checkpoint(
    url: str,
    cache_dir: str | os.PathLike | None = None,
    expected_sha256: str | None = None,
    progress: bool = True,
    expected_sha256_prefix: str | None = None,
) -> tuple[Path, str]:
    """Download ``url`` into the cache (``<cache>/<file name>``); return ``(path, sha256)``.

    ``expected_sha256`` / ``expected_sha256_prefix``: see :func:`download`.
    """
    name = Path(urllib.parse.urlparse(url).path).name
    if not name:
        raise DownloadError(f"cannot derive a file name from {url}")
    dest = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = dest / name
    return path, download(url, path, expected_sha256, progress, expected_sha256_prefix=expected_sha256_prefix)
