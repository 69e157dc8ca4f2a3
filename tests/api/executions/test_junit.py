"""JUnit XML reports: the dialects CI tools write, and every file an import must refuse."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from api.errors import InvalidInput
from api.executions.junit import (
    MAX_CASES,
    MAX_MESSAGE_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PROPERTIES,
    MAX_PROPERTY_VALUE_LENGTH,
    MAX_STACK_LENGTH,
    REFUSED_DECLARATIONS,
    CaseStatus,
    JUnitCase,
    JUnitError,
    JUnitReport,
    parse_junit,
)
from api.test_defs.schemas import AutomationKey

FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "junit"


def fixture(name: str) -> JUnitReport:
    return parse_junit((FIXTURES / name).read_bytes())


def xml(body: str) -> bytes:
    return body.encode()


def refused(data: bytes, *, max_cases: int = MAX_CASES) -> str:
    """The detail of the 422 that refuses `data`."""
    with pytest.raises(InvalidInput) as caught:
        parse_junit(data, max_cases=max_cases)
    assert caught.value.status == 422
    return caught.value.detail


def case(
    name: str,
    classname: str | None,
    *,
    status: CaseStatus = "passed",
    duration_ms: int | None,
    suite: str | None,
    error: JUnitError | None = None,
    skip_reason: str | None = None,
    flaky: bool = False,
    reruns: int = 0,
) -> JUnitCase:
    return JUnitCase(
        classname=classname,
        name=name,
        automation_key=f"{classname}::{name}" if classname else name,
        status=status,
        duration_ms=duration_ms,
        error=error,
        skip_reason=skip_reason,
        suite=suite,
        flaky=flaky,
        reruns=reruns,
    )


class TestPytest:
    def test_the_report(self) -> None:
        report = fixture("pytest.xml")
        assert report.name == "pytest tests"
        assert report.timestamp == datetime(2024, 5, 1, 10, 34, 56, 789012, tzinfo=UTC)
        assert report.hostname == "ci-runner-7"
        # A testcase's own <properties> (record_property) are not the report's.
        assert report.properties == {
            "browser": "chromium",
            "base_url": "https://staging.example.com",
        }

    def test_the_cases(self) -> None:
        login = "tests.test_login.TestLogin"
        checkout = "tests.test_checkout"
        assert fixture("pytest.xml").cases == [
            case("test_ok", login, duration_ms=12, suite="pytest"),
            case(
                "test_wrong_password",
                login,
                status="failed",
                duration_ms=1500,
                suite="pytest",
                error=JUnitError(
                    message="AssertionError: assert 'Invalid password' == 'Wrong password'\n"
                    "  - Wrong password\n  + Invalid password",
                    type=None,
                    stack="self = <tests.test_login.TestLogin object at 0x7f3a2c1b9d50>\n\n"
                    "    def test_wrong_password(self):\n"
                    '>       assert page.error_text() == "Wrong password"\n'
                    "E       AssertionError: assert 'Invalid password' == 'Wrong password'\n\n"
                    "tests/test_login.py:27: AssertionError",
                ),
            ),
            case(
                "test_locked_account",
                login,
                status="error",
                duration_ms=203,
                suite="pytest",
                error=JUnitError(
                    message='failed on setup with "playwright._impl._errors.TimeoutError: '
                    'Page.goto: Timeout 30000ms exceeded."',
                    type=None,
                    stack="fixture 'locked_user' setup failed\n"
                    "playwright._impl._errors.TimeoutError: Page.goto: Timeout 30000ms exceeded.",
                ),
            ),
            case(
                "test_sso",
                login,
                status="skipped",
                duration_ms=0,
                suite="pytest",
                skip_reason="SSO is not configured on staging",
            ),
            case("test_cart[chromium-2 items]", checkout, duration_ms=2250, suite="pytest"),
            case(
                "test_known_rounding_bug",
                checkout,
                status="skipped",
                duration_ms=40,
                suite="pytest",
                skip_reason="rounding bug #1234",
            ),
            # classname="" counts as none: the key is the name alone.
            case("test_module_level", None, duration_ms=1, suite="pytest"),
        ]


class TestSurefire:
    def test_the_report(self) -> None:
        report = fixture("surefire.xml")
        assert report.name == "com.example.shop.CheckoutIT"
        assert report.timestamp == datetime(2024, 5, 2, 8, 0, tzinfo=UTC)  # naive: UTC
        assert report.hostname == "build-agent-3"
        assert report.properties == {
            "java.version": "21.0.3",  # the first value of a name wins
            "os.name": "Linux",
            "selenium.browser": "firefox",
        }

    def test_the_cases(self) -> None:
        it = "com.example.shop.CheckoutIT"
        assert fixture("surefire.xml").cases == [
            case("testGuestCheckout", it, duration_ms=12_345, suite=it),
            case(
                "testCouponApplied",
                it,
                status="failed",
                duration_ms=3200,
                suite=it,
                error=JUnitError(
                    message="expected: <90.00> but was: <100.00>",
                    type="org.opentest4j.AssertionFailedError",
                    stack="org.opentest4j.AssertionFailedError: expected: <90.00> but was: "
                    "<100.00>\n\tat com.example.shop.CheckoutIT.testCouponApplied"
                    "(CheckoutIT.java:58)",
                ),
            ),
            case(
                "testPaymentDeclined",
                it,
                status="error",
                duration_ms=800,
                suite=it,
                error=JUnitError(
                    message="Unable to locate element: #pay-button",
                    type="org.openqa.selenium.NoSuchElementException",
                    stack="org.openqa.selenium.NoSuchElementException: Unable to locate element: "
                    "#pay-button\n\tat com.example.shop.CheckoutIT.testPaymentDeclined"
                    "(CheckoutIT.java:77)",
                ),
            ),
            # Failed, then passed on a rerun: passed, flaky, two reruns recorded.
            case(
                "testAddressAutocomplete",
                it,
                duration_ms=4500,
                suite=it,
                flaky=True,
                reruns=2,
            ),
            # Failed on every rerun: failed, the first <failure> says why. "1,234.5" seconds.
            case(
                "testInventorySync",
                it,
                status="failed",
                duration_ms=1_234_500,
                suite=it,
                error=JUnitError(
                    message="Inventory count mismatch",
                    type="java.lang.AssertionError",
                    stack="java.lang.AssertionError: Inventory count mismatch",
                ),
                reruns=2,
            ),
            case(
                "testGiftCards",
                it,
                status="skipped",
                duration_ms=0,
                suite=it,
                skip_reason="Gift cards are disabled in this environment",
            ),
            # Only <rerunError>s: an error; no message attribute, so the type is the message,
            # and the stack comes from <stackTrace>.
            case(
                "testWarehouseApi",
                it,
                status="error",
                duration_ms=2000,
                suite=it,
                error=JUnitError(
                    message="java.net.ConnectException",
                    type="java.net.ConnectException",
                    stack="java.net.ConnectException: Connection refused\n"
                    "\tat java.base/sun.nio.ch.Net.connect0(Native Method)",
                ),
                reruns=1,
            ),
        ]


class TestJUnit5Gradle:
    def test_the_report(self) -> None:
        report = fixture("junit5-gradle.xml")
        assert report.name == "JUnit Jupiter"
        # The earliest of all suites' timestamps, the nested ones included; an unparsable one
        # is ignored.
        assert report.timestamp == datetime(2024, 5, 3, 10, 15, 29, 500000, tzinfo=UTC)
        assert report.hostname == "gradle-worker-1"
        assert report.properties == {"gradle.version": "8.7"}  # a value given as text

    def test_the_cases_in_document_order_with_their_innermost_suite(self) -> None:
        search = "com.example.app.SearchTest"
        filters = "com.example.app.SearchTest$Filters"
        assert fixture("junit5-gradle.xml").cases == [
            case("findsByTitle()", search, duration_ms=250, suite=search),
            case("byPrice()", filters, duration_ms=500, suite=filters),
            case(
                "byBrand()",
                filters,
                status="failed",
                duration_ms=750,
                suite=filters,
                error=JUnitError(
                    message="expected: <3> but was: <2>",
                    type="org.opentest4j.AssertionFailedError",
                    stack="org.opentest4j.AssertionFailedError: expected: <3> but was: <2>\n"
                    "\tat com.example.app.SearchTest$Filters.byBrand(SearchTest.java:44)",
                ),
            ),
            # In an unnamed suite: the nearest named one. "0,125": a decimal comma.
            case("[1] size=XL", filters, duration_ms=125, suite=filters),
            case("emptyQuery()", search, status="skipped", duration_ms=0, suite=search),
            case(
                "addsItem()",
                "com.example.app.CartTest",
                duration_ms=1250,
                suite="com.example.app.CartTest",
            ),
        ]


class TestMinimal:
    def test_the_report(self) -> None:
        report = fixture("minimal.xml")
        assert (report.name, report.timestamp, report.hostname, report.properties) == (
            "smoke",
            None,
            None,
            {},
        )

    def test_the_cases(self) -> None:
        assert fixture("minimal.xml").cases == [
            case("homepage loads", None, duration_ms=None, suite="smoke"),
            case("search works", None, duration_ms=None, suite="smoke"),  # time="abc"
            case("login button", None, status="skipped", duration_ms=0, suite="smoke"),  # -1
            # No message attribute: the first line of the text.
            case(
                "footer links",
                None,
                status="failed",
                duration_ms=None,
                suite="smoke",
                error=JUnitError(
                    message="AssertionError: 3 broken links",
                    type=None,
                    stack="AssertionError: 3 broken links\n  at footer.spec.ts:12",
                ),
            ),
        ]


def one_case(testcase: str, *, suite: str = '<testsuite name="s">') -> JUnitCase:
    report = parse_junit(xml(f"{suite}{testcase}</testsuite>"))
    assert len(report.cases) == 1
    return report.cases[0]


class TestStatus:
    def test_the_first_of_failure_and_error_decides(self) -> None:
        # pytest writes a failing test whose teardown also fails as both.
        got = one_case(
            '<testcase name="t"><failure message="call"/><error message="teardown"/></testcase>'
        )
        assert (got.status, got.error) == (
            "failed",
            JUnitError(message="call", type=None, stack=None),
        )
        got = one_case(
            '<testcase name="t"><error message="setup"/><failure message="x"/></testcase>'
        )
        assert got.status == "error"

    def test_a_failure_outweighs_a_skip(self) -> None:
        got = one_case('<testcase name="t"><skipped/><failure message="boom"/></testcase>')
        assert (got.status, got.skip_reason) == ("failed", None)

    def test_an_empty_failure_says_failure(self) -> None:
        got = one_case('<testcase name="t"><failure/></testcase>')
        assert got.error == JUnitError(message="failure", type=None, stack=None)
        got = one_case('<testcase name="t"><error type="  "> </error></testcase>')
        assert got.error == JUnitError(message="error", type=None, stack=None)

    def test_the_type_stands_in_for_a_missing_message(self) -> None:
        got = one_case('<testcase name="t"><failure type="AssertionError"/></testcase>')
        assert got.error == JUnitError(message="AssertionError", type="AssertionError", stack=None)

    def test_a_skip_reason_from_the_text(self) -> None:
        got = one_case('<testcase name="t"><skipped>\n\n  not on CI  \nmore</skipped></testcase>')
        assert got.skip_reason == "not on CI"

    def test_a_flaky_error_alone(self) -> None:
        got = one_case('<testcase name="t"><flakyError message="x"/></testcase>')
        assert (got.status, got.flaky, got.reruns, got.error) == ("passed", True, 1, None)

    def test_a_rerun_failure_alone_is_a_failure(self) -> None:
        got = one_case(
            '<testcase name="t"><rerunFailure message="once"><stackTrace>trace</stackTrace>'
            "</rerunFailure></testcase>"
        )
        assert (got.status, got.flaky, got.reruns) == ("failed", False, 1)
        assert got.error == JUnitError(message="once", type=None, stack="trace")

    def test_flaky_elements_beside_a_failure_are_reruns_not_flakiness(self) -> None:
        got = one_case('<testcase name="t"><failure/><flakyFailure/></testcase>')
        assert (got.status, got.flaky, got.reruns) == ("failed", False, 1)


class TestLenience:
    def test_namespaced_tags(self) -> None:
        report = parse_junit(
            xml(
                '<testsuite xmlns="urn:example" name="s"><testcase name="t">'
                "<failure message='m'/></testcase></testsuite>"
            )
        )
        assert [(c.name, c.status) for c in report.cases] == [("t", "failed")]

    def test_names_are_trimmed(self) -> None:
        got = one_case('<testcase classname="  a.B " name=" t "/>')
        assert (got.classname, got.name, got.automation_key) == ("a.B", "t", "a.B::t")

    def test_a_testsuites_root_without_a_name_takes_that_of_its_only_suite(self) -> None:
        # Older pytest versions, and other tools, write a <testsuites> without a name.
        report = parse_junit(
            xml(
                '<testsuites><testsuite name="pytest"><testcase name="t"/></testsuite></testsuites>'
            )
        )
        assert report.name == "pytest"

    def test_a_testsuites_root_with_several_suites_and_no_name_has_no_name(self) -> None:
        report = parse_junit(
            xml('<testsuites><testsuite name="a"/><testsuite name="b"/></testsuites>')
        )
        assert (report.name, report.cases) == (None, [])

    def test_cases_directly_under_testsuites_have_no_suite(self) -> None:
        report = parse_junit(xml('<testsuites><testcase name="t"/></testsuites>'))
        assert [(c.name, c.suite) for c in report.cases] == [("t", None)]

    def test_testcases_out_of_place_are_not_cases(self) -> None:
        report = parse_junit(
            xml(
                '<testsuite name="s"><testcase name="t"><system-out><testcase/></system-out>'
                "</testcase><properties><testcase/></properties></testsuite>"
            )
        )
        assert [c.name for c in report.cases] == ["t"]

    def test_timestamps_in_other_zones_become_utc(self) -> None:
        report = parse_junit(
            xml(
                '<testsuites><testsuite name="a" timestamp="2024-05-01T12:00:00+02:00"/>'
                '<testsuite name="b" timestamp="2024-05-01T11:00:00"/>'
                '<testsuite name="c" timestamp=" "/></testsuites>'
            )
        )
        assert report.timestamp == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
        assert report.timestamp.tzinfo is UTC

    def test_a_utf16_file_with_a_declaration(self) -> None:
        data = (
            '<?xml version="1.0" encoding="UTF-16"?>'
            '<testsuite name="ü"><testcase name="ß"/></testsuite>'
        )
        report = parse_junit(data.encode("utf-16"))
        assert (report.name, [c.name for c in report.cases]) == ("ü", ["ß"])

    @pytest.mark.parametrize(
        ("time", "expected"),
        [
            ("0.012", 12),
            ("12", 12_000),
            (" 2.5 ", 2500),
            ("1e3", 1_000_000),
            ("1,234.5", 1_234_500),
            ("1,234", 1_234_000),
            ("0,125", 125),
            ("1.234,5", 1_234_500),
            ("0.0004", 0),
            ("-1", 0),
            ("", None),
            ("abc", None),
            ("1,2,3", None),
            ("nan", None),
            ("inf", None),
            ("1e400", None),
            ("604800", 604_800_000),  # a week
            ("604801", None),  # more than a week: not a test's duration
        ],
    )
    def test_durations(self, time: str, expected: int | None) -> None:
        assert one_case(f'<testcase name="t" time="{time}"/>').duration_ms == expected


class TestBounds:
    def test_long_messages_and_stacks_are_cut(self) -> None:
        got = one_case(
            f'<testcase name="t"><failure message="{"m" * 5000}">{"s" * 50_000}</failure>'
            "</testcase>"
        )
        assert got.error is not None
        assert got.error.message == "m" * MAX_MESSAGE_LENGTH
        assert got.error.stack == "s" * MAX_STACK_LENGTH

    def test_a_long_skip_reason_is_cut(self) -> None:
        got = one_case(f'<testcase name="t"><skipped message="{"r" * 5000}"/></testcase>')
        assert got.skip_reason == "r" * MAX_MESSAGE_LENGTH

    def test_properties_are_bounded(self) -> None:
        properties = "".join(
            f'<property name="p{i}" value="{"v" * 3000}"/>' for i in range(MAX_PROPERTIES + 5)
        )
        report = parse_junit(
            xml(
                f'<testsuite name="{"n" * 900}"><properties>{properties}<other/>'
                '<property value="nameless"/></properties></testsuite>'
            )
        )
        assert len(report.properties) == MAX_PROPERTIES
        assert report.properties["p0"] == "v" * MAX_PROPERTY_VALUE_LENGTH
        assert report.name == "n" * 500

    def test_a_name_at_the_limit_is_accepted(self) -> None:
        assert one_case(f'<testcase name="{"n" * MAX_NAME_LENGTH}"/>').name == "n" * 500

    def test_the_limit_is_that_of_a_test_cases_automation_key(self) -> None:
        assert TypeAdapter(AutomationKey).json_schema()["maxLength"] == MAX_NAME_LENGTH


class TestRefused:
    @pytest.mark.parametrize("data", [b"", b"   \n\t", b"\n"])
    def test_an_empty_file(self, data: bytes) -> None:
        assert refused(data) == "the file is empty: a JUnit XML report was expected"

    def test_the_billion_laughs(self) -> None:
        bomb = (
            '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
            + "".join(
                f' <!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">\n'
                for i in range(1, 10)
            )
            + ']>\n<testsuite name="&lol9;"><testcase name="t"/></testsuite>'
        )
        assert refused(xml(bomb)) == REFUSED_DECLARATIONS

    def test_an_external_entity(self) -> None:
        xxe = (
            '<?xml version="1.0"?>\n<!DOCTYPE testsuite [\n'
            '  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
            '<testsuite name="s"><testcase name="&xxe;"/></testsuite>'
        )
        assert refused(xml(xxe)) == REFUSED_DECLARATIONS

    def test_an_external_dtd(self) -> None:
        data = (
            '<?xml version="1.0"?>\n<!DOCTYPE testsuite SYSTEM "http://attacker.example/x.dtd">\n'
            '<testsuite name="s"/>'
        )
        assert refused(xml(data)) == REFUSED_DECLARATIONS

    def test_a_dtd_alone(self) -> None:
        data = '<!DOCTYPE testsuite [<!ELEMENT testsuite ANY>]><testsuite name="s"/>'
        assert refused(xml(data)) == REFUSED_DECLARATIONS

    @pytest.mark.parametrize(
        ("data", "detail"),
        [
            (
                b'<testsuite name="s">\n  <testcase name="t">\n</testsuite>',
                "the file is not well-formed XML: mismatched tag at line 3, column 3",
            ),
            (
                b"not xml at all",
                "the file is not well-formed XML: syntax error at line 1, column 1",
            ),
            (
                b'<testsuite name="s"><testcase name="t"/>',
                "the file is not well-formed XML: no element found at line 1, column 41",
            ),
            (
                b'<testsuite name="\xff"/>',
                "the file is not well-formed XML: not well-formed (invalid token) at line 1, "
                "column 18",
            ),
        ],
    )
    def test_malformed_xml_names_the_line_and_column(self, data: bytes, detail: str) -> None:
        assert refused(data) == detail

    @pytest.mark.parametrize("root", ["html", "testcase", "testrun"])
    def test_a_root_that_is_not_a_suite(self, root: str) -> None:
        assert refused(xml(f"<{root}><testcase name='t'/></{root}>")) == (
            f"the root element is <{root}>: a JUnit XML report's is <testsuites> or <testsuite>"
        )

    @pytest.mark.parametrize("name", ["", 'name=""', 'name="   "'])
    def test_a_case_without_a_name(self, name: str) -> None:
        data = xml(
            f'<testsuites><testsuite name="a"><testcase name="x"/></testsuite>'
            f'<testsuite name="b"><testcase name="y"/><testcase {name}/></testsuite></testsuites>'
        )
        assert refused(data) == "test case 3 (in document order) has no name"

    def test_a_name_over_the_limit(self) -> None:
        data = xml(
            f'<testsuite name="s"><testcase name="{"n" * (MAX_NAME_LENGTH + 1)}"/></testsuite>'
        )
        assert refused(data) == (
            "test case 1 (in document order) has a name of 501 characters; at most 500 are accepted"
        )

    def test_an_automation_key_over_the_limit(self) -> None:
        data = xml(
            f'<testsuite name="s"><testcase classname="{"c" * 300}" name="{"n" * 300}"/>'
            "</testsuite>"
        )
        assert refused(data) == (
            "test case 1 (in document order) has an automation key (classname::name) of 602 "
            "characters; at most 500 are accepted"
        )

    def test_too_many_cases(self) -> None:
        cases = '<testcase name="t"/>' * 4
        assert parse_junit(xml(f"<testsuite>{cases}</testsuite>"), max_cases=4).cases
        assert refused(xml(f"<testsuite>{cases}<testcase/></testsuite>"), max_cases=4) == (
            "the report holds more than 4 test cases, the most one import accepts: split it"
        )

    def test_too_many_cases_is_refused_before_the_rest_is_read(self) -> None:
        # The refusal comes while reading: the malformed end is never reached.
        cases = '<testcase name="t"/>' * 11
        assert refused(xml(f"<testsuite>{cases}<unclosed>"), max_cases=10) == (
            "the report holds more than 10 test cases, the most one import accepts: split it"
        )

    def test_the_default_limit(self) -> None:
        cases = '<testcase name="t"/>' * 10_001
        with pytest.raises(InvalidInput, match="more than 10,000 test cases"):
            parse_junit(xml(f"<testsuite>{cases}</testsuite>"))
