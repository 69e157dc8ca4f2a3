"""`/api/v1/artifacts/screenshots`: upload (streamed to GridFS, deduplicated), list, metadata,
content (ETag, 304, Range), delete (shared files kept while referenced)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
import pytest
from bson import ObjectId
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from api.artifacts.screenshot_service import CHUNK_SIZE
from api.main import create_app
from api.settings import Settings
from tests.api.artifacts.images_samples import jpeg, png, png_of_size, webp_vp8l
from tests.api.executions.helpers import create_case, create_run, run_executions

SCREENSHOTS = "/api/v1/artifacts/screenshots"
EXECUTIONS = "/api/v1/executions"


async def upload(
    client: httpx.AsyncClient,
    execution_id: str,
    data: bytes,
    *,
    filename: str = "shot.png",
    expect: int = 201,
    **fields: str,
) -> dict[str, Any]:
    response = await client.post(
        SCREENSHOTS,
        data={"execution_id": execution_id, **fields},
        files={"file": (filename, data, "application/octet-stream")},
    )
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def gridfs_counts(db: AsyncDatabase[Any]) -> tuple[int, int]:
    return (
        await db["screenshots.files"].count_documents({}),
        await db["screenshots.chunks"].count_documents({}),
    )


class TestUpload:
    @pytest.mark.parametrize(
        ("data", "media_type", "size"),
        [
            (png(3, 2), "image/png", (3, 2)),
            (jpeg(640, 480), "image/jpeg", (640, 480)),
            (webp_vp8l(7, 9), "image/webp", (7, 9)),
        ],
    )
    async def test_an_image_is_stored_with_its_type_and_size(
        self,
        client: httpx.AsyncClient,
        db: AsyncDatabase[Any],
        execution: dict[str, Any],
        data: bytes,
        media_type: str,
        size: tuple[int, int],
    ) -> None:
        response = await client.post(
            SCREENSHOTS,
            data={"execution_id": execution["id"], "taken_at": "2026-11-30T09:00:00Z"},
            # The client's header says text: the bytes decide.
            files={"file": ("x.txt", data, "text/plain")},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert response.headers["Location"] == f"{SCREENSHOTS}/{body['id']}"
        assert body["content_type"] == media_type
        assert (body["width"], body["height"]) == size
        assert body["size"] == len(data)
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert body["run_id"] == execution["run_id"]
        assert body["taken_at"].startswith("2026-11-30T09:00:00")
        assert body["filename"] == "x.txt"
        stored = await db["screenshots.files"].find_one({"_id": ObjectId(body["file_id"])})
        assert stored is not None
        assert stored["metadata"]["sha256"] == body["sha256"]
        assert stored["length"] == len(data)

        read = await client.get(f"{SCREENSHOTS}/{body['id']}")
        assert read.status_code == 200
        assert read.json() == body

    async def test_text_renamed_png_is_415_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], execution: dict[str, Any]
    ) -> None:
        body = await upload(client, execution["id"], b"just some text\n" * 100, expect=415)
        assert body["status"] == 415
        assert await gridfs_counts(db) == (0, 0)
        assert await db["screenshots"].count_documents({}) == 0

    async def test_a_body_that_is_not_multipart_is_415(
        self, client: httpx.AsyncClient, execution: dict[str, Any]
    ) -> None:
        response = await client.post(
            SCREENSHOTS, content=png(), headers={"Content-Type": "image/png"}
        )
        assert response.status_code == 415

    async def test_over_the_limit_is_413_and_nothing_is_left(
        self,
        settings: Settings,
        db: AsyncDatabase[Any],
        execution: dict[str, Any],
        admin_key: str,
    ) -> None:
        small = settings.model_copy(update={"max_screenshot_bytes": 4096})
        app = create_app(small)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://t",
                headers={"Authorization": f"Bearer {admin_key}"},
            ) as client:
                # Over the file limit, inside the body limit: aborted while streamed to GridFS.
                big = png() + b"\0" * 10_000
                assert 4096 < len(big) < 4096 + 64 * 1024
                body = await upload(client, execution["id"], big, expect=413)
                assert body["status"] == 413
                # Over the body limit too: refused at the edge, before any route.
                await upload(client, execution["id"], png() + b"\0" * 100_000, expect=413)
                assert await gridfs_counts(db) == (0, 0)
                # At the limit, accepted.
                await upload(client, execution["id"], png())

    @pytest.mark.parametrize(
        ("fields", "location"),
        [
            ({"execution_id": "6650a1b2c3d4e5f6a7b8c9d0"}, "body.execution_id"),
            ({"execution_id": "nope"}, "body.execution_id"),
            ({"step_id": "no-such-step"}, "body.step_id"),
            ({"taken_at": "yesterday"}, "body.taken_at"),
            ({"extra": "x"}, "body.extra"),
        ],
    )
    async def test_unknown_execution_or_step_is_422(
        self,
        client: httpx.AsyncClient,
        db: AsyncDatabase[Any],
        execution: dict[str, Any],
        fields: dict[str, str],
        location: str,
    ) -> None:
        response = await client.post(
            SCREENSHOTS,
            data={"execution_id": execution["id"], **fields},
            files={"file": ("a.png", png(), "image/png")},
        )
        assert response.status_code == 422, response.text
        assert [e["location"] for e in response.json()["errors"]] == [location]
        assert await gridfs_counts(db) == (0, 0)

    async def test_without_a_file_is_422(
        self, client: httpx.AsyncClient, execution: dict[str, Any]
    ) -> None:
        response = await client.post(
            SCREENSHOTS,
            data={"execution_id": execution["id"]},
            files={"other": ("a.png", b"", "image/png")},
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["location"] == "body.file"

    async def test_identical_bytes_are_stored_once(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], execution: dict[str, Any]
    ) -> None:
        first = await upload(client, execution["id"], png(seed=1))
        second = await upload(client, execution["id"], png(seed=1))
        other = await upload(client, execution["id"], png(seed=2))
        assert first["id"] != second["id"]
        assert first["file_id"] == second["file_id"] != other["file_id"]
        assert (await gridfs_counts(db))[0] == 2
        assert await db["screenshots"].count_documents({}) == 3

    async def test_concurrent_identical_uploads_end_on_one_file(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], execution: dict[str, Any]
    ) -> None:
        bodies = await asyncio.gather(
            *(upload(client, execution["id"], png(seed=7)) for _ in range(3))
        )
        assert len({body["file_id"] for body in bodies}) == 1
        assert await gridfs_counts(db) == (1, 1)
        stored = await db["screenshots.files"].find_one({})
        assert stored is not None
        assert stored["metadata"]["refs"] == 3

    async def test_a_step_lists_its_screenshots_once(
        self, client: httpx.AsyncClient, execution: dict[str, Any]
    ) -> None:
        step = execution["steps"][1]
        body = await upload(client, execution["id"], png(), step_id=step["step_id"])
        assert (body["step_id"], body["step_order"]) == (step["step_id"], step["order"])
        other = await upload(client, execution["id"], png(seed=3), step_id=step["step_id"])
        read = (await client.get(f"{EXECUTIONS}/{execution['id']}")).json()
        assert read["steps"][1]["screenshot_ids"] == [body["id"], other["id"]]
        assert read["steps"][0]["screenshot_ids"] == []

        deleted = await client.delete(f"{SCREENSHOTS}/{body['id']}")
        assert deleted.status_code == 204
        read = (await client.get(f"{EXECUTIONS}/{execution['id']}")).json()
        assert read["steps"][1]["screenshot_ids"] == [other["id"]]

    async def test_a_full_step_is_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], execution: dict[str, Any]
    ) -> None:
        step_id = execution["steps"][0]["step_id"]
        await db["test_executions"].update_one(
            {"_id": ObjectId(execution["id"])},
            {"$set": {"steps.0.screenshot_ids": [ObjectId() for _ in range(50)]}},
        )
        response = await client.post(
            SCREENSHOTS,
            data={"execution_id": execution["id"], "step_id": step_id},
            files={"file": ("a.png", png(), "image/png")},
        )
        assert response.status_code == 422
        assert await gridfs_counts(db) == (0, 0)


class TestContent:
    async def test_the_bytes_stream_back_with_caching_headers(
        self, client: httpx.AsyncClient, execution: dict[str, Any]
    ) -> None:
        data = jpeg(10, 10, app_bytes=60_000) + bytes(range(256)) * 2400  # 3 GridFS chunks
        body = await upload(client, execution["id"], data)
        response = await client.get(f"{SCREENSHOTS}/{body['id']}/content")
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["content-length"] == str(len(data))
        assert response.headers["etag"] == f'"{body["sha256"]}"'
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"

    async def test_if_none_match_is_304(
        self, client: httpx.AsyncClient, execution: dict[str, Any]
    ) -> None:
        body = await upload(client, execution["id"], png())
        url = f"{SCREENSHOTS}/{body['id']}/content"
        tag = f'"{body["sha256"]}"'
        for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
            response = await client.get(url, headers={"If-None-Match": header})
            assert response.status_code == 304, header
            assert response.content == b""
            assert response.headers["etag"] == tag
        assert (await client.get(url, headers={"If-None-Match": '"other"'})).status_code == 200

    async def test_ranges(self, client: httpx.AsyncClient, execution: dict[str, Any]) -> None:
        data = png(40, 40)
        size = len(data)
        body = await upload(client, execution["id"], data)
        url = f"{SCREENSHOTS}/{body['id']}/content"
        for header, start, end in [
            ("bytes=0-9", 0, 9),
            ("bytes=10-", 10, size - 1),
            ("bytes=-5", size - 5, size - 1),
            (f"bytes=5-{size + 100}", 5, size - 1),
            (f"bytes=-{size + 100}", 0, size - 1),
        ]:
            response = await client.get(url, headers={"Range": header})
            assert response.status_code == 206, header
            assert response.content == data[start : end + 1], header
            assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
            assert response.headers["content-length"] == str(end - start + 1)
        for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
            response = await client.get(url, headers={"Range": header})
            assert response.status_code == 416, header
            assert response.headers["content-range"] == f"bytes */{size}"
        # Several ranges, or what this does not understand: the whole image.
        for header in ("bytes=0-1,4-5", "items=0-1", "bytes=9-2", "bytes=-"):
            response = await client.get(url, headers={"Range": header})
            assert response.status_code == 200, header
            assert response.content == data

    async def test_ranges_across_gridfs_chunks(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], execution: dict[str, Any]
    ) -> None:
        size = 2 * CHUNK_SIZE + 1000  # 3 chunks, the last one short
        data = png_of_size(size)
        body = await upload(client, execution["id"], data)
        assert (body["content_type"], body["size"]) == ("image/png", size)
        assert await gridfs_counts(db) == (1, 3)
        url = f"{SCREENSHOTS}/{body['id']}/content"
        first, second = CHUNK_SIZE, 2 * CHUNK_SIZE  # where the 2nd and 3rd chunks start
        for header, start, end in [
            (f"bytes={first - 10}-{first + 9}", first - 10, first + 9),  # over one boundary
            (
                f"bytes={first - 1}-{second}",
                first - 1,
                second,
            ),  # a whole chunk and a byte each side
            (f"bytes={first}-{second - 1}", first, second - 1),  # exactly the middle chunk
            (f"bytes=1-{size - 2}", 1, size - 2),  # both boundaries, all but the ends
            (f"bytes={second - 3}-", second - 3, size - 1),  # open-ended over the last one
            ("bytes=-1050", size - 1050, size - 1),  # a suffix over the last boundary
            (f"bytes=-{CHUNK_SIZE + 1001}", first - 1, size - 1),  # a suffix over both
        ]:
            response = await client.get(url, headers={"Range": header})
            assert response.status_code == 206, header
            assert response.headers["content-range"] == f"bytes {start}-{end}/{size}", header
            assert response.headers["content-length"] == str(end - start + 1), header
            assert len(response.content) == end - start + 1, header
            assert response.content == data[start : end + 1], header

    async def test_unknown_screenshot_is_404(self, client: httpx.AsyncClient) -> None:
        for url in (
            f"{SCREENSHOTS}/6650a1b2c3d4e5f6a7b8c9d0",
            f"{SCREENSHOTS}/6650a1b2c3d4e5f6a7b8c9d0/content",
        ):
            assert (await client.get(url)).status_code == 404
        assert (await client.delete(f"{SCREENSHOTS}/6650a1b2c3d4e5f6a7b8c9d0")).status_code == 404

    async def test_content_whose_file_is_gone_is_404(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], execution: dict[str, Any]
    ) -> None:
        body = await upload(client, execution["id"], png())
        await db["screenshots.files"].delete_many({})
        assert (await client.get(f"{SCREENSHOTS}/{body['id']}/content")).status_code == 404


class TestDelete:
    async def test_a_shared_file_stays_until_the_last_reference_goes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], execution: dict[str, Any]
    ) -> None:
        first = await upload(client, execution["id"], png())
        second = await upload(client, execution["id"], png())
        assert (await client.delete(f"{SCREENSHOTS}/{first['id']}")).status_code == 204
        assert (await client.get(f"{SCREENSHOTS}/{first['id']}")).status_code == 404
        assert await gridfs_counts(db) == (1, 1)
        content = await client.get(f"{SCREENSHOTS}/{second['id']}/content")
        assert content.content == png()
        assert (await client.delete(f"{SCREENSHOTS}/{second['id']}")).status_code == 204
        assert await gridfs_counts(db) == (0, 0)

    async def test_concurrent_deletes_of_the_last_two_references(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], execution: dict[str, Any]
    ) -> None:
        for _ in range(3):
            first = await upload(client, execution["id"], png(seed=9))
            second = await upload(client, execution["id"], png(seed=9))
            responses = await asyncio.gather(
                client.delete(f"{SCREENSHOTS}/{first['id']}"),
                client.delete(f"{SCREENSHOTS}/{second['id']}"),
            )
            assert [r.status_code for r in responses] == [204, 204]
            assert await gridfs_counts(db) == (0, 0)
            assert await db["screenshots"].count_documents({}) == 0

    async def test_concurrent_deletes_of_one_screenshot(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], execution: dict[str, Any]
    ) -> None:
        keep = await upload(client, execution["id"], png(seed=4))
        gone = await upload(client, execution["id"], png(seed=4))
        responses = await asyncio.gather(
            *(client.delete(f"{SCREENSHOTS}/{gone['id']}") for _ in range(2))
        )
        assert sorted(r.status_code for r in responses) in ([204, 404], [204, 204])
        assert await gridfs_counts(db) == (1, 1)
        assert (await client.get(f"{SCREENSHOTS}/{keep['id']}/content")).status_code == 200


class TestList:
    async def test_filters(self, client: httpx.AsyncClient, execution: dict[str, Any]) -> None:
        case = await create_case(client, "Other")
        run = await create_run(client, test_case_ids=[case["id"]])
        [other] = await run_executions(client, run["id"])
        step_id = execution["steps"][0]["step_id"]
        a = await upload(
            client, execution["id"], png(seed=1), step_id=step_id, taken_at="2026-11-30T09:00:00Z"
        )
        b = await upload(client, execution["id"], png(seed=2), taken_at="2026-11-30T09:00:01Z")
        c = await upload(client, other["id"], png(seed=3), taken_at="2026-11-30T09:00:02Z")

        async def ids(**params: str) -> list[str]:
            response = await client.get(SCREENSHOTS, params=params)
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

        assert await ids(order="asc") == [a["id"], b["id"], c["id"]]
        assert await ids(execution_id=execution["id"], order="asc") == [a["id"], b["id"]]
        assert await ids(run_id=run["id"]) == [c["id"]]
        assert await ids(step_id=step_id) == [a["id"]]
        assert await ids(execution_id=other["id"], step_id=step_id) == []

        page = (await client.get(SCREENSHOTS, params={"limit": 2, "order": "asc"})).json()
        assert page["total"] == 3
        assert page["next_cursor"]
        rest = await ids(order="asc", cursor=page["next_cursor"])
        assert rest == [c["id"]]
        fields = (await client.get(SCREENSHOTS, params={"fields": "sha256"})).json()["items"][0]
        assert set(fields) == {"id", "sha256"}


def test_openapi_documents_the_upload_and_the_bytes(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    body = paths[SCREENSHOTS]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert body["schema"]["properties"]["file"]["format"] == "binary"
    content = paths[f"{SCREENSHOTS}/{{id}}/content"]["get"]["responses"]
    assert set(content["200"]["content"]) == {"image/png", "image/jpeg", "image/webp"}
    assert {"206", "304", "416"} <= set(content)
