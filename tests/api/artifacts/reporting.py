"""A finished run with passed, failed (and retried), error and skipped executions, made through
HTTP, for the report tests."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import httpx

from tests.api.executions.helpers import EXECUTIONS, create_case, create_run, get_run

REPORTS = "/api/v1/artifacts/reports"
IMPORT = "/api/v1/executions/runs/import"
SCRIPT = "<script>alert(1)</script>"
SCREENSHOT_ID = "6650a1b2c3d4e5f6a7b8c9d0"
AT = {"started_at": "2026-06-01T09:00:00Z", "finished_at": "2026-06-01T09:00:01.250Z"}


async def finished_run(
    client: httpx.AsyncClient, *, name: str = "nightly", stack: str = "at login.spec.ts:12"
) -> dict[str, Any]:
    """A run of four cases: passed; failed, then failed again on attempt 2; error; skipped."""
    login = await create_case(client, "Login works", automation_key="auth.LoginTest::test_login")
    broken = await create_case(client, f"Checkout {SCRIPT}", automation_key="shop.checkout")
    crash = await create_case(client, "Search")
    skip = await create_case(client, "Legacy export")
    ids = [case["id"] for case in (login, broken, crash, skip)]
    run = await create_run(client, name=name, test_case_ids=ids)
    step_ids = [step["id"] for step in login["steps"]]
    timeout = {"message": f"Timeout {SCRIPT}", "type": "TimeoutError", "stack": stack}
    results: list[dict[str, Any]] = [
        {
            **AT,
            "run_id": run["id"],
            "test_case_id": login["id"],
            "status": "passed",
            "steps": [
                {"step_id": step_ids[0], "status": "passed", "duration_ms": 400},
                {
                    "step_id": step_ids[1],
                    "status": "passed",
                    "duration_ms": 800,
                    "screenshot_ids": [SCREENSHOT_ID],
                },
            ],
        },
        {
            **AT,
            "run_id": run["id"],
            "test_case_id": broken["id"],
            "status": "failed",
            "error": timeout,
        },
        {
            **AT,
            "run_id": run["id"],
            "test_case_id": broken["id"],
            "attempt": 2,
            "status": "failed",
            "error": timeout,
        },
        {
            **AT,
            "run_id": run["id"],
            "test_case_id": crash["id"],
            "status": "error",
            "error": {"message": "browser crashed"},
        },
        {**AT, "run_id": run["id"], "test_case_id": skip["id"], "status": "skipped"},
    ]
    response = await client.post(f"{EXECUTIONS}/bulk", json={"results": results})
    assert response.status_code == 200, response.text
    assert response.json()["failed"] == 0, response.text
    return await get_run(client, run["id"])


async def create_report(client: httpx.AsyncClient, run_id: str, fmt: str) -> dict[str, Any]:
    response = await client.post(REPORTS, json={"run_id": run_id, "format": fmt})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def content(client: httpx.AsyncClient, report_id: str) -> httpx.Response:
    response = await client.get(f"{REPORTS}/{report_id}/content")
    assert response.status_code == 200, response.text
    return response


class _Page(HTMLParser):
    """What an HTML page links and loads: each `<a href>` with the `src` of the `<img>` inside
    it (None for a link without one), and every URL the browser would fetch to show it."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str | None] = {}
        self.loads: list[str] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "a":
            self._href = found["href"]
            self.links[self._href] = None
        if "src" in found:
            self.loads.append(found["src"])
            if tag == "img" and self._href is not None:
                self.links[self._href] = found["src"]
        if tag == "link":
            self.loads.append(found.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None


def screenshot_links(page: str) -> dict[str, str | None]:
    """Each link of the page, with its thumbnail's `src` (None: a link only); asserts that the
    page loads nothing but `data:` URIs (no scripts, styles or images from anywhere)."""
    parsed = _Page()
    parsed.feed(page)
    assert all(url.startswith("data:image/") for url in parsed.loads), parsed.loads
    assert "<script" not in page
    assert "url(" not in page  # no CSS loads either
    # Every absolute URL in the page is one of its links.
    assert page.count("http://") + page.count("https://") == len(
        [href for href in parsed.links if href.startswith(("http://", "https://"))]
    )
    return parsed.links
