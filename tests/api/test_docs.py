"""/docs and /redoc work without internet: every asset they load is served by the app."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest

# What each kind of asset must be served as (a browser refuses a script sent as text/plain).
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class LinkedUrls(HTMLParser):
    """Every URL a page makes the browser load: script and link targets, ReDoc's spec-url."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and (
                (tag == "script" and name == "src")
                or (tag == "link" and name == "href")
                or (tag == "redoc" and name == "spec-url")
            ):
                self.urls.append(value)


def linked_urls(html: str) -> list[str]:
    parser = LinkedUrls()
    parser.feed(html)
    return parser.urls


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and url.startswith("/")


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
async def test_a_docs_page_loads_only_local_assets(
    client: httpx.AsyncClient, page: str, assets: set[str]
) -> None:
    response = await client.get(page)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = linked_urls(response.text)
    assert [url for url in urls if not is_local(url)] == []
    assert {url.rsplit("/", 1)[1] for url in urls} >= assets
    assert "/openapi.json" in response.text
    assert "fonts.googleapis.com" not in response.text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_every_asset_a_docs_page_loads_is_served_with_its_type(
    client: httpx.AsyncClient, page: str
) -> None:
    urls = linked_urls((await client.get(page)).text)

    for url in urls:
        response = await client.get(url)
        assert response.status_code == 200, url
        suffix = "." + url.rsplit(".", 1)[1]
        if suffix in CONTENT_TYPES:
            assert response.headers["content-type"].startswith(CONTENT_TYPES[suffix]), url
        else:
            assert url == "/openapi.json"
            assert response.headers["content-type"] == "application/json"
        assert response.content, url


async def test_the_swagger_ui_oauth2_redirect_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_a_missing_asset_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs-assets/nothing.js")

    assert response.status_code == 404


async def test_the_docs_pages_are_not_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    assert not {"/docs", "/redoc", "/docs/oauth2-redirect"} & set(paths)
