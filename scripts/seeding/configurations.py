"""Browser configurations (exactly one default) and test environments with their variables."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from documents.configurations import BrowserConfiguration, BrowserName, TestEnvironment
from scripts.seeding.context import SeedContext, Seeder, UniqueNames, Window, build

# Configurations and environments exist before the tests that use them: the first tenth of the
# seeded history.
CREATED: Window = (0.0, 0.1)

_CHROME_ARGS = ("--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage")
_IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
_PIXEL_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.81 Mobile Safari/537.36"
)
VERSIONS = {
    BrowserName.CHROMIUM: ("130.0.6723.31", "131.0.6778.33", "132.0.6834.57"),
    BrowserName.CHROME: ("130.0.6723.117", "131.0.6778.86", "132.0.6834.84"),
    BrowserName.FIREFOX: ("132.0", "133.0.3", "134.0"),
    BrowserName.WEBKIT: ("18.0", "18.2"),
    BrowserName.EDGE: ("130.0.2849.80", "131.0.2903.70"),
}


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    browser: BrowserName
    headless: bool = True
    width: int = 1280
    height: int = 720
    scale: float = 1.0
    user_agent: str | None = None
    locale: str = "en-US"
    timezone: str = "UTC"
    args: tuple[str, ...] = ()


PROFILES = (
    Profile("Chrome desktop", BrowserName.CHROME, False, 1920, 1080, args=_CHROME_ARGS[:1]),
    Profile("Chrome headless", BrowserName.CHROME, args=_CHROME_ARGS),
    Profile("Chromium CI", BrowserName.CHROMIUM, args=_CHROME_ARGS),
    Profile("Firefox desktop", BrowserName.FIREFOX, False, 1920, 1080),
    Profile("Firefox headless", BrowserName.FIREFOX, width=1366, height=768),
    Profile("Safari desktop (WebKit)", BrowserName.WEBKIT, False, 1440, 900, 2.0),
    Profile("Edge desktop", BrowserName.EDGE, False, 1536, 864, 1.25),
    Profile("iPhone 15 (WebKit)", BrowserName.WEBKIT, True, 393, 852, 3.0, _IPHONE_UA),
    Profile("Pixel 8 (Chromium)", BrowserName.CHROMIUM, True, 412, 915, 2.625, _PIXEL_UA),
    Profile("iPad Air (WebKit)", BrowserName.WEBKIT, True, 820, 1180, 2.0),
    Profile("Chrome German", BrowserName.CHROME, locale="de-DE", timezone="Europe/Berlin"),
    Profile("Firefox French", BrowserName.FIREFOX, locale="fr-FR", timezone="Europe/Paris"),
    Profile("Chrome Japanese", BrowserName.CHROME, locale="ja-JP", timezone="Asia/Tokyo"),
    Profile("Chrome small laptop", BrowserName.CHROME, width=1280, height=800),
)


def browsers(context: SeedContext) -> Iterator[BrowserConfiguration]:
    count = context.size.browser_configurations
    profiles = context.rng.sample(PROFILES, len(PROFILES))
    default = context.rng.randrange(count)
    names = UniqueNames()
    for index in range(count):
        profile = profiles[index % len(profiles)]
        yield build(
            BrowserConfiguration,
            **context.history(CREATED, counter="revision"),
            name=names.take(profile.name),
            browser=profile.browser,
            version=context.maybe(0.8, list(VERSIONS[profile.browser])),
            headless=profile.headless,
            viewport={"width": profile.width, "height": profile.height},
            device_scale_factor=profile.scale,
            user_agent=profile.user_agent,
            locale=profile.locale,
            timezone=profile.timezone,
            args=list(profile.args),
            is_default=index == default,
        )


# (name, host): the environments a web team keeps, in the order a team adds them.
ENVIRONMENTS = (
    ("Staging", "staging"),
    ("QA", "qa"),
    ("Production", "www"),
    ("Development", "dev"),
    ("UAT", "uat"),
    ("Pre-production", "preprod"),
    ("Performance", "perf"),
    ("Demo", "demo"),
    ("Sandbox", "sandbox"),
    ("Preview", "preview"),
)
FEATURE_FLAGS = ("new-checkout", "dark-mode", "one-click-pay", "reviews-v2", "search-ai")


def environments(context: SeedContext) -> Iterator[TestEnvironment]:
    faker, rng = context.faker, context.rng
    domain = faker.domain_name()
    names = UniqueNames()
    for index in range(context.size.environments):
        name, host = ENVIRONMENTS[index % len(ENVIRONMENTS)]
        base_url = f"https://{host}.{domain}"
        variables = [
            {"name": "API_URL", "value": f"https://api.{host}.{domain}/v2"},
            {"name": "TEST_USER_EMAIL", "value": f"qa+{host}@{domain}"},
            {"name": "TEST_USER_PASSWORD", "value": faker.password(length=16), "secret": True},
        ]
        if context.chance(0.6):
            variables.append({"name": "API_TOKEN", "value": faker.sha1(), "secret": True})
        if context.chance(0.5):
            flags = rng.sample(FEATURE_FLAGS, rng.randint(1, 3))
            variables.append({"name": "FEATURE_FLAGS", "value": ",".join(flags)})
        if context.chance(0.3):
            variables.append({"name": "DEFAULT_LOCALE", "value": rng.choice(["en-US", "de-DE"])})
        yield build(
            TestEnvironment,
            **context.history(CREATED),
            name=names.take(name),
            base_url=base_url,
            description=f"{name} deployment of the shop, at {base_url}",
            is_active=host == "www" or context.chance(0.85),
            variables=variables,
        )


SEEDERS = (
    Seeder(BrowserConfiguration, lambda context: context.size.browser_configurations, browsers),
    Seeder(TestEnvironment, lambda context: context.size.environments, environments),
)
