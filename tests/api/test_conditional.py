"""Conditional requests on every resource with a version: `ETag`, `If-Match`, `If-None-Match`.

Browser configurations count their changes in `revision` (their `version` is the browser's own
version string); every other resource in `version`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api.helpers import BROWSERS, ENVIRONMENTS, assert_problem

API = "/api/v1"


@dataclass(frozen=True)
class Resource:
    route: str
    create: dict[str, Any]
    change: dict[str, Any]
    counter: str = "version"


RESOURCES = {
    "browsers": Resource(
        BROWSERS,
        {"name": "Chrome", "browser": "chrome", "version": "126"},
        {"headless": False},
        counter="revision",
    ),
    "environments": Resource(
        ENVIRONMENTS,
        {"name": "staging", "base_url": "https://s.example.com/"},
        {"is_active": False},
    ),
    "suites": Resource(f"{API}/suites", {"name": "smoke"}, {"description": "fast"}),
    "templates": Resource(f"{API}/templates", {"name": "login"}, {"category": "auth"}),
    "tests": Resource(f"{API}/tests", {"name": "log in"}, {"priority": "high"}),
}


@pytest.fixture(params=sorted(RESOURCES))
def resource(request: pytest.FixtureRequest) -> Resource:
    return RESOURCES[request.param]


async def _create(client: httpx.AsyncClient, resource: Resource) -> httpx.Response:
    response = await client.post(resource.route, json=resource.create)
    assert response.status_code == 201, response.text
    return response


def _tag(version: int) -> str:
    return f'"{version}"'


class TestETag:
    async def test_create_starts_at_1_and_answers_its_etag(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        response = await _create(client, resource)

        assert response.json()[resource.counter] == 1
        assert response.headers["ETag"] == _tag(1)

    async def test_get_answers_the_etag(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        url = (await _create(client, resource)).headers["Location"]

        response = await client.get(url)

        assert response.status_code == 200
        assert response.headers["ETag"] == _tag(response.json()[resource.counter])

    async def test_every_change_adds_one_and_patch_answers_the_new_etag(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        url = (await _create(client, resource)).headers["Location"]

        first = await client.patch(url, json=resource.change)
        second = await client.patch(url, json={**resource.change, "name": "renamed"})

        assert first.status_code == 200, first.text
        assert first.json()[resource.counter] == 2
        assert first.headers["ETag"] == _tag(2)
        assert second.json()[resource.counter] == 3
        assert second.headers["ETag"] == _tag(3)
        assert (await client.get(url)).json()[resource.counter] == 3

    async def test_an_empty_patch_is_no_change(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        url = (await _create(client, resource)).headers["Location"]

        response = await client.patch(url, json={})

        assert response.json()[resource.counter] == 1
        assert response.headers["ETag"] == _tag(1)

    async def test_the_counter_is_listed(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        await _create(client, resource)

        [item] = (await client.get(resource.route)).json()["items"]

        assert item[resource.counter] == 1


class TestIfMatch:
    async def test_patch_with_the_current_etag_applies(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        url = (await _create(client, resource)).headers["Location"]

        response = await client.patch(url, json=resource.change, headers={"If-Match": _tag(1)})

        assert response.status_code == 200, response.text
        assert response.json()[resource.counter] == 2

    async def test_patch_with_a_stale_etag_is_412_and_changes_nothing(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        url = (await _create(client, resource)).headers["Location"]
        await client.patch(url, json={"name": "moved on"})
        before = (await client.get(url)).json()

        response = await client.patch(url, json=resource.change, headers={"If-Match": _tag(1)})

        assert_problem(response, 412)
        assert (await client.get(url)).json() == before

    async def test_an_empty_patch_with_a_stale_etag_is_412(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        url = (await _create(client, resource)).headers["Location"]

        assert_problem(await client.patch(url, json={}, headers={"If-Match": _tag(7)}), 412)

    async def test_delete_with_a_stale_etag_is_412_and_keeps_it(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        url = (await _create(client, resource)).headers["Location"]
        await client.patch(url, json={"name": "moved on"})

        assert_problem(await client.delete(url, headers={"If-Match": _tag(1)}), 412)
        assert (await client.get(url)).status_code == 200

    async def test_delete_with_the_current_etag_deletes(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        url = (await _create(client, resource)).headers["Location"]

        assert (await client.delete(url, headers={"If-Match": _tag(1)})).status_code == 204
        assert (await client.get(url)).status_code == 404

    async def test_star_matches_any_version(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        url = (await _create(client, resource)).headers["Location"]

        response = await client.patch(url, json=resource.change, headers={"If-Match": "*"})

        assert response.status_code == 200, response.text


class TestIfNoneMatch:
    async def test_the_current_etag_is_304_without_a_body(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        url = (await _create(client, resource)).headers["Location"]

        response = await client.get(url, headers={"If-None-Match": _tag(1)})

        assert response.status_code == 304
        assert response.headers["ETag"] == _tag(1)
        assert response.content == b""

    @pytest.mark.parametrize("header", ["*", 'W/"1"', '"5", "1"'])
    async def test_star_weak_and_listed_tags_match(
        self, client: httpx.AsyncClient, resource: Resource, header: str
    ) -> None:
        url = (await _create(client, resource)).headers["Location"]

        response = await client.get(url, headers={"If-None-Match": header})

        assert response.status_code == 304

    async def test_an_old_etag_gets_the_resource(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        url = (await _create(client, resource)).headers["Location"]
        await client.patch(url, json=resource.change)

        response = await client.get(url, headers={"If-None-Match": _tag(1)})

        assert response.status_code == 200
        assert response.headers["ETag"] == _tag(2)
        assert response.json()[resource.counter] == 2

    async def test_an_unknown_id_is_still_404(
        self, client: httpx.AsyncClient, resource: Resource
    ) -> None:
        response = await client.get(
            f"{resource.route}/6650f1c2a7b4e3d2c1b0a998", headers={"If-None-Match": "*"}
        )

        assert_problem(response, 404)


class TestSuiteMembership:
    async def test_adding_and_removing_cases_is_a_change(self, client: httpx.AsyncClient) -> None:
        suite_url = (await _create(client, RESOURCES["suites"])).headers["Location"]
        case = (await _create(client, RESOURCES["tests"])).json()
        members = f"{suite_url}/tests"

        added = await client.post(members, json={"test_case_ids": [case["id"]]})
        again = await client.post(members, json={"test_case_ids": [case["id"]]})
        removed = await client.request("DELETE", members, json={"test_case_ids": [case["id"]]})

        assert added.json()["version"] == 2
        assert added.headers["ETag"] == _tag(2)
        assert again.json()["version"] == 2  # already a member: nothing changed
        assert removed.json()["version"] == 3

    async def test_membership_changes_honour_if_match(self, client: httpx.AsyncClient) -> None:
        suite_url = (await _create(client, RESOURCES["suites"])).headers["Location"]
        case = (await _create(client, RESOURCES["tests"])).json()
        await client.patch(suite_url, json={"description": "moved on"})

        response = await client.post(
            f"{suite_url}/tests", json={"test_case_ids": [case["id"]]}, headers={"If-Match": '"1"'}
        )

        assert_problem(response, 412)
        assert (await client.get(suite_url)).json()["test_case_ids"] == []

    async def test_deleting_a_member_case_is_a_change_of_the_suite(
        self, client: httpx.AsyncClient
    ) -> None:
        case = (await _create(client, RESOURCES["tests"])).json()
        created = await client.post(
            f"{API}/suites", json={"name": "smoke", "test_case_ids": [case["id"]]}
        )
        suite_url = created.headers["Location"]

        await client.delete(f"{API}/tests/{case['id']}")

        suite = (await client.get(suite_url)).json()
        assert suite["test_case_ids"] == []
        assert suite["version"] == 2


class TestBrowserRevision:
    async def test_version_stays_the_browser_version(self, client: httpx.AsyncClient) -> None:
        url = (await _create(client, RESOURCES["browsers"])).headers["Location"]

        body = (await client.patch(url, json={"headless": False})).json()

        assert body["version"] == "126"
        assert body["revision"] == 2

    async def test_a_demoted_default_is_a_change(self, client: httpx.AsyncClient) -> None:
        old = await client.post(
            BROWSERS, json={"name": "Old", "browser": "chrome", "is_default": True}
        )
        await client.post(BROWSERS, json={"name": "New", "browser": "chrome", "is_default": True})

        demoted = await client.get(old.headers["Location"])

        assert demoted.json()["is_default"] is False
        assert demoted.json()["revision"] == 2

    async def test_a_stale_promotion_is_412_and_the_default_stays(
        self, client: httpx.AsyncClient
    ) -> None:
        await client.post(BROWSERS, json={"name": "Old", "browser": "chrome", "is_default": True})
        other = await client.post(BROWSERS, json={"name": "Other", "browser": "firefox"})
        url = other.headers["Location"]
        await client.patch(url, json={"headless": False})

        response = await client.patch(url, json={"is_default": True}, headers={"If-Match": '"1"'})

        assert_problem(response, 412)
        listed = (await client.get(BROWSERS, params={"is_default": "true"})).json()
        assert [item["name"] for item in listed["items"]] == ["Old"]
