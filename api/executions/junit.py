"""JUnit XML reports: what `POST /executions/runs/import` reads, as plain typed values.

`parse_junit(data)` reads the dialects CI tools write: pytest (`<testsuites>` around one
`<testsuite>`), Maven Surefire and Failsafe (one root `<testsuite>`, `<properties>`, reruns as
`<flakyFailure>`, `<rerunFailure>` ...), JUnit 5 / Gradle (`<testsuite>`s nested to any depth) and
minimal files (`<skipped/>` with nothing else). It touches no database.

Safety: the XML is untrusted. It is parsed with `defusedxml`, and a document type declaration of
any kind is refused before anything in it is read: entity expansion (the "billion laughs"),
external entities (a local file or URL read into the report) and DTDs alone. The file is read as
a stream and refused as soon as it holds more than `max_cases` test cases, so a large file of
empty cases costs no more memory than that many. The caller bounds the file's size in bytes (413).

Every refusal is an `InvalidInput` (422) whose detail says what is wrong and where. Text is
bounded so that what the caller stores stays small: a case name over `MAX_NAME_LENGTH` (or an
automation key over it) is refused, since cutting it would make two cases one; messages are cut
at `MAX_MESSAGE_LENGTH` characters, stacks at `MAX_STACK_LENGTH`, and suite names, host names and
properties at the bounds below.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import ErrorString

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from api.errors import InvalidInput

MAX_CASES = 10_000
"""How many test cases one report may hold (`parse_junit`'s default `max_cases`)."""

MAX_NAME_LENGTH = 500
"""The longest case name, and automation key (`classname::name`), accepted: a test case's
`automation_key` is at most this long (`api.test_defs.schemas.AutomationKey`)."""

MAX_MESSAGE_LENGTH = 2_000
"""Error messages and skip reasons are cut at this many characters."""

MAX_STACK_LENGTH = 20_000
"""Stacks (the text of a `<failure>` or `<error>`) are cut at this many characters."""

MAX_LABEL_LENGTH = 500
"""Report and suite names, host names and property names are cut at this many characters."""

MAX_PROPERTY_VALUE_LENGTH = 2_000
"""Property values are cut at this many characters (Surefire's `java.class.path` is huge)."""

MAX_PROPERTIES = 200
"""The report keeps the first this many distinct properties (Surefire writes about 60)."""

MAX_DURATION_MS = 7 * 24 * 3600 * 1000
"""A longer duration than a week is not a test's: it is read as unknown (`None`)."""

_GROUPED = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?")
_GROUPED_DECIMAL_COMMA = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+,\d*")

CaseStatus = Literal["passed", "failed", "error", "skipped"]

SUITE_TAGS = frozenset({"testsuites", "testsuite"})
FAILED_TAGS: dict[str, CaseStatus] = {"failure": "failed", "error": "error"}
# Surefire's reruns: `flaky*` when a rerun passed, `rerun*` when every rerun failed too.
FLAKY_TAGS: dict[str, CaseStatus] = {"flakyFailure": "failed", "flakyError": "error"}
RERUN_TAGS: dict[str, CaseStatus] = {"rerunFailure": "failed", "rerunError": "error"}

REFUSED_DECLARATIONS = (
    "the XML declares entities or a DTD, which imports refuse: remove the <!DOCTYPE ...> "
    "declaration (JUnit reports do not need one)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class JUnitError:
    """Why a case failed or errored: from its `<failure>` or `<error>` element."""

    message: str
    """The `message` attribute, else the first line of the element's text, else its `type`,
    else the element's name (`failure`, `error`); at most `MAX_MESSAGE_LENGTH` characters."""
    type: str | None
    stack: str | None
    """The element's text (for Surefire's rerun elements, their `<stackTrace>`), trimmed; at
    most `MAX_STACK_LENGTH` characters."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JUnitCase:
    """One `<testcase>`."""

    classname: str | None
    """`None` when the attribute is missing or blank."""
    name: str
    automation_key: str
    """`classname::name`, or the name alone without a classname: how a case is found."""
    status: CaseStatus
    """`failed` with a `<failure>`, `error` with an `<error>` (the first of the two decides),
    else `skipped` with a `<skipped>`, else `passed`. Surefire: `<rerunFailure>`/`<rerunError>`
    alone also mean failed/error; `<flakyFailure>`/`<flakyError>` alone mean passed, and flaky."""
    duration_ms: int | None
    """From the `time` attribute (seconds): `None` when missing, unparsable, not finite or over
    `MAX_DURATION_MS`; negative times count as 0."""
    error: JUnitError | None
    """Set for `failed` and `error` cases only."""
    skip_reason: str | None
    """A skipped case's `message` attribute, else the first line of its text."""
    suite: str | None
    """The name of the innermost enclosing `<testsuite>` that has one."""
    flaky: bool
    """Passed on a rerun after failing (Surefire's `<flakyFailure>`/`<flakyError>`)."""
    reruns: int
    """How many reruns the report records: its flaky and rerun elements."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JUnitReport:
    """A whole file: what the run it becomes needs, and its cases."""

    name: str | None
    """The root's `name`; for a `<testsuites>` without one, that of its only `<testsuite>`."""
    timestamp: datetime | None
    """The earliest suite `timestamp`, in UTC (a timestamp without a zone is read as UTC)."""
    hostname: str | None
    """The first suite `hostname` in the file."""
    properties: dict[str, str] = field(default_factory=dict)
    """The suites' `<properties>`, merged: the first value of a name wins."""
    cases: list[JUnitCase] = field(default_factory=list)
    """In document order. Keys may repeat (a case run twice): the caller decides what that means."""


def parse_junit(data: bytes, *, max_cases: int = MAX_CASES) -> JUnitReport:
    """Read a JUnit XML report; `InvalidInput` (422) says why one is refused."""
    if not data.strip():
        raise InvalidInput("the file is empty: a JUnit XML report was expected")
    reader = _Reader(max_cases=max_cases)
    try:
        for event, element in _events(data):
            reader.read(event, element)
    except DefusedXmlException as exc:
        raise InvalidInput(REFUSED_DECLARATIONS) from exc
    except ParseError as exc:
        line, column = exc.position
        raise InvalidInput(
            f"the file is not well-formed XML: {ErrorString(exc.code)} "
            f"at line {line}, column {column + 1}"
        ) from exc
    return reader.report()


def _events(data: bytes) -> Iterator[tuple[str, Element]]:
    events: Iterator[tuple[str, Element]] = iterparse(
        io.BytesIO(data), events=("start", "end"), forbid_dtd=True
    )
    return events


class _Reader:
    """Builds a report from the parser's start and end events, one element at a time."""

    def __init__(self, *, max_cases: int) -> None:
        self.max_cases = max_cases
        self.open: list[str] = []
        """The tags of the elements started and not yet ended, outermost first."""
        self.suite_names: list[str | None] = []
        """For each open suite, its name, else the nearest enclosing suite's."""
        self.root_name: str | None = None
        self.top_suite_names: list[str | None] = []
        self.timestamps: list[datetime] = []
        self.hostname: str | None = None
        self.properties: dict[str, str] = {}
        self.cases: list[JUnitCase] = []
        self.seen_cases = 0

    def read(self, event: str, element: Element) -> None:
        tag = _local(element.tag)
        if event == "start":
            self._start(tag, element)
            self.open.append(tag)
            return
        self.open.pop()
        if tag in SUITE_TAGS and self._in_suite_body():
            self.suite_names.pop()
        elif tag == "testcase" and self._in_suite_body():
            self.cases.append(_case(element, index=self.seen_cases, suite=self._suite_name()))
            element.clear()  # what a case held is in self.cases now: free it
        elif tag == "properties" and self._in_suite_body():
            self._read_properties(element)

    def _start(self, tag: str, element: Element) -> None:
        if not self.open:
            if tag not in SUITE_TAGS:
                raise InvalidInput(
                    f"the root element is <{tag}>: a JUnit XML report's is <testsuites> or "
                    "<testsuite>"
                )
            self.root_name = _label(element.get("name"))
        if tag in SUITE_TAGS and self._in_suite_body():
            self._start_suite(tag, element)
        elif tag == "testcase" and self._in_suite_body():
            self.seen_cases += 1
            if self.seen_cases > self.max_cases:
                raise InvalidInput(
                    f"the report holds more than {self.max_cases:,} test cases, the most one "
                    "import accepts: split it"
                )

    def _in_suite_body(self) -> bool:
        """Whether the element being read is the root or a child of a suite (not, e.g., inside
        a test case's `<properties>` or `<system-out>`)."""
        return not self.open or self.open[-1] in SUITE_TAGS

    def _start_suite(self, tag: str, element: Element) -> None:
        name = _label(element.get("name"))
        if len(self.open) == 1 and tag == "testsuite":
            self.top_suite_names.append(name)
        enclosing = self._suite_name()
        self.suite_names.append(name if tag == "testsuite" and name else enclosing)
        timestamp = _timestamp(element.get("timestamp"))
        if timestamp is not None:
            self.timestamps.append(timestamp)
        if self.hostname is None:
            self.hostname = _label(element.get("hostname"))

    def _suite_name(self) -> str | None:
        return self.suite_names[-1] if self.suite_names else None

    def _read_properties(self, element: Element) -> None:
        for prop in element:
            if _local(prop.tag) != "property":
                continue
            name = _label(prop.get("name"))
            if name is None or name in self.properties:
                continue
            if len(self.properties) >= MAX_PROPERTIES:
                return
            value = prop.get("value")
            if value is None:
                value = (prop.text or "").strip()
            self.properties[name] = value[:MAX_PROPERTY_VALUE_LENGTH]

    def report(self) -> JUnitReport:
        name = self.root_name
        if name is None and len(self.top_suite_names) == 1:
            name = self.top_suite_names[0]
        return JUnitReport(
            name=name,
            timestamp=min(self.timestamps, default=None),
            hostname=self.hostname,
            properties=self.properties,
            cases=self.cases,
        )


def _case(element: Element, *, index: int, suite: str | None) -> JUnitCase:
    name = (element.get("name") or "").strip()
    if not name:
        raise InvalidInput(f"test case {index} (in document order) has no name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"test case {index} (in document order) has a name of {len(name):,} characters; "
            f"at most {MAX_NAME_LENGTH} are accepted"
        )
    classname = (element.get("classname") or "").strip() or None
    key = f"{classname}::{name}" if classname else name
    if len(key) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"test case {index} (in document order) has an automation key (classname::name) of "
            f"{len(key):,} characters; at most {MAX_NAME_LENGTH} are accepted"
        )

    children = [(_local(child.tag), child) for child in element]
    outcome = next(((tag, child) for tag, child in children if tag in FAILED_TAGS), None)
    reruns = [(tag, child) for tag, child in children if tag in RERUN_TAGS]
    flaky = [(tag, child) for tag, child in children if tag in FLAKY_TAGS]
    skipped = next((child for tag, child in children if tag == "skipped"), None)

    status: CaseStatus
    error: JUnitError | None = None
    skip_reason: str | None = None
    if outcome is not None:
        status = FAILED_TAGS[outcome[0]]
        error = _error(*outcome)
    elif reruns:
        status = RERUN_TAGS[reruns[0][0]]
        error = _error(*reruns[0])
    elif skipped is not None:
        status = "skipped"
        skip_reason = _message(skipped)
    else:
        status = "passed"
    return JUnitCase(
        classname=classname,
        name=name,
        automation_key=key,
        status=status,
        duration_ms=_duration_ms(element.get("time")),
        error=error,
        skip_reason=skip_reason,
        suite=suite,
        flaky=status == "passed" and bool(flaky),
        reruns=len(reruns) + len(flaky),
    )


def _error(tag: str, element: Element) -> JUnitError:
    type_ = (element.get("type") or "").strip() or None
    stack = _text(element)
    if stack is None:
        # Surefire writes a rerun's stack in a child element.
        trace = next((c for c in element if _local(c.tag) == "stackTrace"), None)
        stack = None if trace is None else _text(trace)
    return JUnitError(
        message=_message(element) or type_ or tag,
        type=type_,
        stack=None if stack is None else stack[:MAX_STACK_LENGTH],
    )


def _message(element: Element) -> str | None:
    """The `message` attribute, else the first non-blank line of the text, cut to size."""
    message = (element.get("message") or "").strip()
    if not message:
        text = _text(element) or ""
        message = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return message[:MAX_MESSAGE_LENGTH] or None


def _text(element: Element) -> str | None:
    return (element.text or "").strip() or None


def _label(value: str | None) -> str | None:
    """A name-like attribute: trimmed, `None` when blank, cut at `MAX_LABEL_LENGTH`."""
    value = (value or "").strip()
    return value[:MAX_LABEL_LENGTH] or None


def _local(tag: str) -> str:
    """The tag without an XML namespace (`{urn:x}testcase` -> `testcase`)."""
    return tag.rpartition("}")[2]


def _timestamp(value: str | None) -> datetime | None:
    if not value or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _duration_ms(value: str | None) -> int | None:
    """Seconds, as tools write them: `0.012`, `12`, `1,234.5` and `1,234` (Surefire groups
    thousands), `0,125` and `1.234,5` (a decimal comma, from a tool that followed its locale).

    `1,234` could be either: it is read as grouped, as Surefire writes it; `0,125` cannot be."""
    if value is None:
        return None
    text = value.strip()
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    elif _GROUPED_DECIMAL_COMMA.fullmatch(text):
        text = text.replace(".", "").replace(",", ".")
    elif text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        seconds = float(text)
    except ValueError:
        return None
    if not math.isfinite(seconds):
        return None
    milliseconds = max(0, round(seconds * 1000))
    return milliseconds if milliseconds <= MAX_DURATION_MS else None
