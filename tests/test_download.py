"""Checkpoint download against a local HTTP server: resume, truncation, 404, hash checks, cache."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from porting.download import DownloadError, default_cache_dir, download, fetch_checkpoint

PAYLOAD = bytes(range(256)) * 1200  # 300 KB


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "range"  # range | norange | truncate | missing
    requests: ClassVar[list[dict]] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        cls = type(self)
        cls.requests.append({"path": self.path, "range": self.headers.get("Range")})
        if cls.mode == "missing":
            self.send_error(404, "Not Found")
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and cls.mode == "range":
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(PAYLOAD):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cls.mode == "truncate":
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture()
def server():
    _Handler.mode = "range"
    _Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/swin_test.pth", _Handler
    httpd.shutdown()
    httpd.server_close()


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_plain_download_records_sha256(server, tmp_path):
    url, _ = server
    dest = tmp_path / "swin_test.pth"
    assert download(url, dest, progress=False) == SHA
    assert dest.read_bytes() == PAYLOAD
    assert (tmp_path / "swin_test.pth.sha256").read_text() == f"{SHA}  swin_test.pth\n"
    assert not (tmp_path / "swin_test.pth.part").exists()


def test_resume_from_partial_file(server, tmp_path):
    url, handler = server
    dest = tmp_path / "swin_test.pth"
    (tmp_path / "swin_test.pth.part").write_bytes(PAYLOAD[:1000])
    assert download(url, dest, progress=False) == SHA
    assert handler.requests[-1]["range"] == "bytes=1000-"
    assert dest.read_bytes() == PAYLOAD


def test_server_without_range_support_restarts(server, tmp_path):
    url, handler = server
    handler.mode = "norange"
    (tmp_path / "swin_test.pth.part").write_bytes(b"garbage" * 10)
    assert download(url, tmp_path / "swin_test.pth", progress=False) == SHA
    assert (tmp_path / "swin_test.pth").read_bytes() == PAYLOAD


def test_truncated_transfer_keeps_part_and_resumes(server, tmp_path):
    url, handler = server
    handler.mode = "truncate"
    dest = tmp_path / "swin_test.pth"
    with pytest.raises(DownloadError, match=r"incomplete|interrupted"):
        download(url, dest, progress=False)
    part = tmp_path / "swin_test.pth.part"
    assert part.is_file() and 0 < part.stat().st_size < len(PAYLOAD)
    assert not dest.exists()
    handler.mode = "range"
    assert download(url, dest, progress=False) == SHA
    assert handler.requests[-1]["range"] == f"bytes={len(PAYLOAD) // 3}-"


def test_404_is_a_clear_error_and_leaves_nothing(server, tmp_path):
    url, handler = server
    handler.mode = "missing"
    with pytest.raises(DownloadError, match=r"HTTP 404 .* for http://127\.0\.0\.1"):
        download(url, tmp_path / "swin_test.pth", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_hash_mismatch_removes_download(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match=f"expected {'0' * 64}, got {SHA}"):
        download(url, tmp_path / "swin_test.pth", expected_sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_cached_file_with_matching_hash_makes_no_request(server, tmp_path):
    url, handler = server
    dest = tmp_path / "swin_test.pth"
    dest.write_bytes(PAYLOAD)
    assert download(url, dest, expected_sha256=SHA, progress=False) == SHA
    assert handler.requests == []


def test_cached_file_with_wrong_hash_is_downloaded_again(server, tmp_path):
    url, handler = server
    dest = tmp_path / "swin_test.pth"
    dest.write_bytes(b"stale")
    assert download(url, dest, expected_sha256=SHA, progress=False) == SHA
    assert len(handler.requests) == 1 and dest.read_bytes() == PAYLOAD


def test_unreachable_host_is_a_download_error(tmp_path):
    with pytest.raises(DownloadError, match="cannot reach"):
        download("http://127.0.0.1:9/x.pth", tmp_path / "x.pth", progress=False, timeout=2)


def test_cache_dir_from_environment(server, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOSWIN_CACHE", str(tmp_path / "cache"))
    assert default_cache_dir() == tmp_path / "cache"
    url, _ = server
    path, digest = fetch_checkpoint(url, progress=False)
    assert path == tmp_path / "cache" / "swin_test.pth" and digest == SHA
    monkeypatch.delenv("VIDEOSWIN_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "tf_videoswin" / "checkpoints"


def test_published_sha256_prefix_is_checked(server, tmp_path):
    """mmaction2 publishes only the first 8 hex digits of a file's sha256 (in its file name)."""
    url, handler = server
    dest = tmp_path / "swin_test.pth"
    path, digest = fetch_checkpoint(url, tmp_path, progress=False, expected_sha256_prefix=SHA[:8])
    assert (path, digest) == (dest, SHA)
    wrong = ("0" if SHA[0] != "0" else "1") + SHA[1:8]
    dest.unlink()
    with pytest.raises(DownloadError, match=rf"expected {wrong}\.\.\. \(published prefix\), got {SHA}"):
        download(url, dest, progress=False, expected_sha256_prefix=wrong)
    assert not dest.exists() and not (tmp_path / "swin_test.pth.part").exists()
    # A cached file without the prefix is fetched again; with it, no request is made.
    dest.write_bytes(b"stale")
    handler.requests.clear()
    assert download(url, dest, progress=False, expected_sha256_prefix=SHA[:8].upper()) == SHA
    assert len(handler.requests) == 1 and dest.read_bytes() == PAYLOAD
    assert download(url, dest, progress=False, expected_sha256_prefix=SHA[:8]) == SHA
    assert len(handler.requests) == 1
    # A full digest and a prefix must both hold.
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download(url, tmp_path / "other.pth", SHA, progress=False, expected_sha256_prefix=wrong)
