"""Error signatures: equal failures share one, different failures do not."""

from __future__ import annotations

import pytest

from api.executions.signature import EMPTY_SIGNATURE, MAX_SIGNATURE_LENGTH, signature

# Pairs of (message, type) that are occurrences of the same failure.
SAME_FAILURE: list[tuple[str, tuple[str, str | None], tuple[str, str | None]]] = [
    (
        "playwright timeout, other duration and call log",
        (
            "locator.click: Timeout 30000ms exceeded.\nCall log:\n  - waiting for "
            "locator('#login')",
            "TimeoutError",
        ),
        (
            "locator.click: Timeout 5000ms exceeded.\nCall log:\n  - waiting for "
            "locator('#submit')\n  -   locator resolved to <button>",
            "TimeoutError",
        ),
    ),
    (
        "selenium: other selector, session and browser version",
        (
            'Message: no such element: Unable to locate element: {"method":"css selector",'
            '"selector":"#login"}\n  (Session info: chrome=124.0.6367.91)',
            "NoSuchElementException",
        ),
        (
            'Message: no such element: Unable to locate element: {"method":"css selector",'
            '"selector":"button.submit"}\n  (Session info: chrome=125.0.6422.60)',
            "NoSuchElementException",
        ),
    ),
    (
        "quoted values (the documented trade-off)",
        ("element 'Login' not found", None),
        ("element 'Submit' not found", None),
    ),
    (
        "pytest assertion on other values",
        ("AssertionError: assert 'Welcome, Bob' == 'Welcome, Alice'", "AssertionError"),
        ("AssertionError: assert 'Hello' == 'Welcome, Alice'", "AssertionError"),
    ),
    (
        "URL with another query",
        ("Timeout loading https://a/x?id=5", None),
        ("Timeout loading https://a/x?id=6", None),
    ),
    (
        "URL on another host and port",
        (
            "page.goto: net::ERR_CONNECTION_REFUSED at http://localhost:3000/login",
            "Error",
        ),
        (
            "page.goto: net::ERR_CONNECTION_REFUSED at https://staging.example.com:8443/login",
            "Error",
        ),
    ),
    (
        "ids: ObjectId, UUID, hex session",
        (
            "Order 6650f1c2a7b4e3d2c1b0a998 not found "
            "(request 123e4567-e89b-12d3-a456-426614174000)",
            None,
        ),
        (
            "Order 6650f1c2a7b4e3d2c1b0a999 not found "
            "(request 9f1c2d3e-4b5a-6c7d-8e9f-0a1b2c3d4e5f)",
            None,
        ),
    ),
    (
        "timestamps in several formats",
        (
            "session expired at 2024-05-01T12:34:56.789Z "
            "(server time Wed, 01 May 2024 12:34:56 GMT)",
            None,
        ),
        (
            "session expired at 2024-06-30T01:02:03+02:00 "
            "(server time Sun, 30 Jun 2024 01:02:03 GMT)",
            None,
        ),
    ),
    (
        "paths with line and column",
        ("SyntaxError at /home/ci/builds/1234/app/src/login.ts:12:5", None),
        ("SyntaxError at /home/ci/builds/1250/app/src/checkout.ts:98:17", None),
    ),
    (
        "windows paths",
        ("cannot open C:\\Users\\ci\\AppData\\Local\\Temp\\run-1\\report.html", None),
        ("cannot open C:\\Users\\ci\\AppData\\Local\\Temp\\run-2\\report.html", None),
    ),
    (
        "relative paths",
        ("tests/test_login.py:42: in test_ok", None),
        ("tests/checkout/test_cart.py:7: in test_ok", None),
    ),
    (
        "the message repeats the type",
        ("TimeoutError: waited 10s", "TimeoutError"),
        ("waited 12s", "TimeoutError"),
    ),
    (
        "whitespace and colour codes",
        ("\x1b[31mexpected\x1b[39m   3  rows,\tgot 4", None),
        ("expected 5 rows, got 0  ", None),
    ),
    (
        "numbers in selectors after a separator",
        ("no row #order-42 in table", None),
        ("no row #order-7 in table", None),
    ),
]

# Pairs that are different failures and must stay apart.
DIFFERENT_FAILURES: list[tuple[str, tuple[str, str | None], tuple[str, str | None]]] = [
    (
        "different types",
        ("Timeout 30000ms exceeded.", "TimeoutError"),
        ("Timeout 30000ms exceeded.", "AssertionError"),
    ),
    (
        "different playwright actions",
        ("locator.click: Timeout 30000ms exceeded.", "TimeoutError"),
        ("locator.fill: Timeout 30000ms exceeded.", "TimeoutError"),
    ),
    (
        "different units",
        ("waited 30s", None),
        ("waited 30ms", None),
    ),
    (
        "different wording",
        ("element <str> not found", None),
        ("element <str> not visible", None),
    ),
    (
        "network errors",
        ("page.goto: net::ERR_CONNECTION_REFUSED at http://localhost:3000/", None),
        ("page.goto: net::ERR_NAME_NOT_RESOLVED at http://localhost:3000/", None),
    ),
    (
        "identifiers with digits stay",
        ("no <h1> on the page", None),
        ("no <h2> on the page", None),
    ),
    (
        "selenium exceptions",
        (
            "Message: stale element reference: stale element not found",
            "StaleElementReferenceException",
        ),
        ("Message: element click intercepted", "ElementClickInterceptedException"),
    ),
    (
        "an apostrophe opens no quote",
        ("can't click the button, it isn't enabled", None),
        ("can't click the link, it isn't enabled", None),
    ),
]


@pytest.mark.parametrize(
    ("first", "second"), [(a, b) for _, a, b in SAME_FAILURE], ids=[c[0] for c in SAME_FAILURE]
)
def test_occurrences_of_one_failure_share_a_signature(
    first: tuple[str, str | None], second: tuple[str, str | None]
) -> None:
    assert signature(*first) == signature(*second)


@pytest.mark.parametrize(
    ("first", "second"),
    [(a, b) for _, a, b in DIFFERENT_FAILURES],
    ids=[c[0] for c in DIFFERENT_FAILURES],
)
def test_different_failures_have_different_signatures(
    first: tuple[str, str | None], second: tuple[str, str | None]
) -> None:
    assert signature(*first) != signature(*second)


@pytest.mark.parametrize(
    ("message", "type_", "expected"),
    [
        (
            "locator.click: Timeout 30000ms exceeded.\nCall log:",
            "TimeoutError",
            "TimeoutError: locator.click: Timeout <n>ms exceeded.",
        ),
        (
            'Unable to locate element: {"method":"css selector","selector":"#login"}',
            None,
            "Unable to locate element: {<str>:<str>,<str>:<str>}",
        ),
        ("Timeout loading https://a/x?id=5.", None, "Timeout loading <url>."),
        ("see (https://example.com/a)", None, "see (<url>)"),
        (
            "assert 'a' == \"b\" or `c` or \u201cd\u201d or \u2018e\u2019",
            None,
            "assert <str> == <str> or <str> or <str> or <str>",
        ),
        ("got 'it\\'s' back", None, "got <str> back"),
        (
            "element 'Login' not found; can't click it",
            None,
            "element <str> not found; can't click it",
        ),
        (
            "Order 6650f1c2a7b4e3d2c1b0a998 in session 3F2A9C1E4B7D8F0A",
            None,
            "Order <hex> in session <hex>",
        ),
        ("segfault at 0x7ffd and 0XFF", None, "segfault at <hex> and <hex>"),
        ("deadbeef accepted; 12345678 rows", None, "deadbeef accepted; <n> rows"),
        ("id 123e4567-e89b-12d3-a456-426614174000", None, "id <uuid>"),
        ("at 2024-05-01", None, "at <ts>"),
        ("at 2024-05-01T12:34:56.789012+00:00.", None, "at <ts>."),
        ("at 2024-05-01 12:34:56 UTC", None, "at <ts>"),
        ("at 2024/05/01 12:34", None, "at <ts>"),
        ("on 05/01/2024 3:04:05 PM", None, "on <ts>"),
        ("on 5/1/24", None, "on <ts>"),
        ("since Wed, 01 May 2024 12:34:56 GMT", None, "since <ts>"),
        ("since 1 May 2024", None, "since <ts>"),
        ("[12:34:56.789] step failed", None, "[<ts>] step failed"),
        ("at /home/ci/app/src/login.ts:12:5 and ./out/a.log", None, "at <path> and <path>"),
        ("in ../shared/x and ~/cache/y", None, "in <path> and <path>"),
        ("navigated to /login instead", None, "navigated to <path> instead"),
        ("at C:\\ci\\test.py:3", None, "at <path>"),
        ("on \\\\server\\share\\r.xml", None, "on <path>"),
        ("node_modules/playwright-core/lib/server/frames.js:123 threw", None, "<path> threw"),
        (
            "3/4 done, 5 km/h and/or application/json",
            None,
            "<n>/<n> done, <n> km/h and/or application/json",
        ),
        (
            "took 1,234.5 ms; -5 left; version 124.0.6367.91",
            None,
            "took <n> ms; -<n> left; version <n>",
        ),
        ("h1 utf8 test_42 item42 base64", None, "h1 utf8 test_42 item42 base64"),
        ("\n\n  first   line  \nsecond line", None, "first line"),
    ],
)
def test_what_is_replaced(message: str, type_: str | None, expected: str) -> None:
    assert signature(message, type_) == expected


class TestTypePrefix:
    def test_the_type_prefixes_the_message(self) -> None:
        assert signature("boom", "RuntimeError") == "RuntimeError: boom"

    def test_a_message_that_starts_with_the_type_is_not_prefixed_twice(self) -> None:
        assert signature("RuntimeError: boom", "RuntimeError") == "RuntimeError: boom"

    def test_a_blank_type_counts_as_none(self) -> None:
        assert signature("boom", "  ") == "boom"

    def test_the_type_is_kept_as_written(self) -> None:
        assert (
            signature("expected:<1> but was:<2>", "org.opentest4j.AssertionFailedError")
            == "org.opentest4j.AssertionFailedError: expected:<<n>> but was:<<n>>"
        )


class TestNeverEmpty:
    @pytest.mark.parametrize("message", ["", "   ", "\n\n", "\t \r\n"])
    def test_no_message_and_no_type(self, message: str) -> None:
        assert signature(message) == EMPTY_SIGNATURE

    def test_no_message_falls_back_to_the_type(self) -> None:
        assert signature("", "TimeoutError") == "TimeoutError"
        assert signature(" \n ", "TimeoutError") == "TimeoutError"


class TestLength:
    def test_a_long_message_is_cut(self) -> None:
        result = signature("word " * 500, "AssertionError")
        assert len(result) <= MAX_SIGNATURE_LENGTH
        assert result.startswith("AssertionError: word word")
        assert result == result.strip()

    def test_a_long_type_alone_is_cut(self) -> None:
        assert len(signature("", "E" * 1000)) == MAX_SIGNATURE_LENGTH

    def test_long_messages_that_differ_only_after_the_cut_group_together(self) -> None:
        head = "step failed: " + "context " * 40
        assert signature(head + "alpha") == signature(head + "beta")

    @pytest.mark.parametrize(
        "hostile",
        [
            '"' * 200_000,
            "'a" * 100_000,
            "x/" * 100_000,
            "/a" * 100_000,
            "1." * 100_000,
            "a" * 200_000 + "/b",
        ],
    )
    def test_hostile_input_is_normalised(self, hostile: str) -> None:
        # Inputs that make backtracking regular expressions run for hours; these run in linear
        # time, so this test finishes at once.
        assert len(signature(hostile)) <= MAX_SIGNATURE_LENGTH


def test_signatures_are_deterministic() -> None:
    message = "locator.click: Timeout 30000ms exceeded at https://a/x?id=5 'Login' 2024-05-01"
    assert len({signature(message, "TimeoutError") for _ in range(5)}) == 1
