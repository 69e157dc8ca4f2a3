"""Screenshot thumbnails in HTML reports: embedded as `data:` URIs, linked to the absolute
content URL, a link only for a screenshot that does not decode."""

from __future__ import annotations

import base64
import io
import struct
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.api.artifacts.images_samples import png
from tests.api.artifacts.reporting import content, create_report, screenshot_links
from tests.api.artifacts.test_screenshots import upload
from tests.api.executions.helpers import (
    SUITES,
    create_case,
    create_run,
    create_suite,
    get_run,
    run_executions,
    set_status,
)

BASE = "http://testserver/api/v1/artifacts/screenshots"
PNG = png(640, 480)
CORRUPT = b"\x89PNG\r\n\x1a\n" + b"not an image at all" * 8  # sniffs as PNG, does not decode
HUGE = png(1, 1).replace(struct.pack(">II", 1, 1), struct.pack(">II", 6000, 5000), 1)
"""A PNG header claiming 30 million pixels (a decompression bomb's shape): never decoded."""


def jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(buffer, format="JPEG")
    return buffer.getvalue()


JPEG = jpeg(800, 300)


async def screenshots_in_a_finished_run(
    client: httpx.AsyncClient, **run_fields: Any
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A run of one case whose execution passed with screenshots on its steps: a PNG, a JPEG,
    the PNG again (stored once), a corrupt PNG and one too large to decode. Returns the run and
    each screenshot's bytes by id."""
    case = await create_case(client, "Login works")
    run = await create_run(client, test_case_ids=[case["id"]], **run_fields)
    [execution] = await run_executions(client, run["id"])
    first, second = (step["step_id"] for step in execution["steps"])
    uploads = [(PNG, first), (JPEG, first), (PNG, second), (CORRUPT, second), (HUGE, second)]
    shots: dict[str, bytes] = {}
    for data, step_id in uploads:
        shots[(await upload(client, execution["id"], data, step_id=step_id))["id"]] = data
    await set_status(client, execution["id"], "running")
    await set_status(client, execution["id"], "passed")
    finished = await get_run(client, run["id"])
    assert finished["status"] == "passed"
    return finished, shots


async def assert_thumbnails(client: httpx.AsyncClient, page: str, shots: dict[str, bytes]) -> None:
    """Each decodable screenshot is a `data:` thumbnail within 320 x 200 (its aspect kept),
    linked to its absolute content URL; the corrupt and the huge one a link only."""
    links = screenshot_links(page)
    assert set(links) == {f"{BASE}/{id}/content" for id in shots}
    for id, data in shots.items():
        href = f"{BASE}/{id}/content"
        response = await client.get(href)
        assert response.status_code == 200, response.text
        assert response.content == data
        src = links[href]
        if data in (CORRUPT, HUGE):
            assert src is None
            continue
        assert src is not None
        assert src.startswith("data:image/jpeg;base64,")
        encoded = base64.b64decode(src.removeprefix("data:image/jpeg;base64,"), validate=True)
        assert len(encoded) <= 20 * 1024
        with Image.open(io.BytesIO(encoded)) as thumbnail:
            thumbnail.load()
            width, height = thumbnail.size
        assert width <= 320
        assert height <= 200
        with Image.open(io.BytesIO(data)) as original:
            assert abs(width / height - original.width / original.height) < 0.02
    # The PNG shown twice (two screenshots, one stored file) has one thumbnail, twice.
    assert len({src for src in links.values() if src is not None}) == 2


async def test_a_run_report_embeds_thumbnails_linked_to_the_content(
    client: httpx.AsyncClient,
) -> None:
    run, shots = await screenshots_in_a_finished_run(client)

    report = await create_report(client, run["id"], "html")  # 201, the unusable ones included

    await assert_thumbnails(client, (await content(client, report["id"])).text, shots)


@pytest.mark.parametrize("fmt", ["json", "junit"])
async def test_other_formats_embed_no_image(client: httpx.AsyncClient, fmt: str) -> None:
    run, _ = await screenshots_in_a_finished_run(client)

    report = await create_report(client, run["id"], fmt)

    assert "base64" not in (await content(client, report["id"])).text


async def test_the_suite_report_embeds_thumbnails_the_same_way(
    client: httpx.AsyncClient,
) -> None:
    suite = await create_suite(client, "Smoke", [])
    _, shots = await screenshots_in_a_finished_run(client, suite_id=suite["id"])

    response = await client.get(f"{SUITES}/{suite['id']}/report", params={"format": "html"})

    assert response.status_code == 200, response.text
    await assert_thumbnails(client, response.text, shots)
