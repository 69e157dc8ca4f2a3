"""A large upload and download stream through `jbts serve` without growing its memory: the
server runs in a process of its own (on this session's database), whose peak RSS is read from
/proc before and after a 30 MB screenshot goes in and comes back out."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.artifacts.images_samples import png
from tests.servers import Server, server_env

SCREENSHOTS = "/api/v1/artifacts/screenshots"
SIZE = 30 * 1024 * 1024
MAX_GROWTH = 15 * 1024 * 1024

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/<pid>/status")


def peak_rss(pid: int) -> int:
    """The process's peak resident set size (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")  # pragma: no cover


@pytest.fixture
def served(
    mongodb_uri: str, db_name: str, db: AsyncDatabase[Any], tmp_path: Path
) -> Iterator[Server]:
    """`jbts serve` in a process of its own, on this test's (migrated) database."""
    env = server_env(
        MONGODB_URI=mongodb_uri,
        MONGODB_DB=db_name,
        JBTS_MAX_SCREENSHOT_BYTES=str(40 * 2**20),
        JBTS_AUTH="off",  # what is measured is the upload's memory
    )
    server = Server([], env, tmp_path)
    try:
        server.get_when_up("/health/ready", 200)
        yield server
    finally:
        server.stop()


def test_a_30_mb_screenshot_streams_in_and_out(
    served: Server, execution: dict[str, Any], tmp_path: Path
) -> None:
    image = tmp_path / "big.png"
    with image.open("wb") as out:
        out.write(png(64, 64))
        block = bytes(range(256)) * 4096  # 1 MiB
        while out.tell() < SIZE:
            out.write(block)
    expected = hashlib.sha256(image.read_bytes()).hexdigest()
    with httpx.Client(base_url=served.base_url, timeout=300) as http:
        # Warm up: every module and buffer a first upload needs is loaded before measuring.
        warm = http.post(
            SCREENSHOTS,
            data={"execution_id": execution["id"]},
            files={"file": ("small.png", png(), "image/png")},
        )
        assert warm.status_code == 201, warm.text
        before = peak_rss(served.process.pid)
        with image.open("rb") as source:
            response = http.post(
                SCREENSHOTS,
                data={"execution_id": execution["id"]},
                files={"file": ("big.png", source, "image/png")},
            )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["size"], body["sha256"], body["width"]) == (image.stat().st_size, expected, 64)
        digest = hashlib.sha256()
        with http.stream("GET", f"{SCREENSHOTS}/{body['id']}/content") as download:
            assert download.status_code == 200
            for chunk in download.iter_bytes():
                digest.update(chunk)
        assert digest.hexdigest() == expected
        growth = peak_rss(served.process.pid) - before
    assert growth < MAX_GROWTH, f"the server's peak RSS grew by {growth / 2**20:.1f} MiB"
