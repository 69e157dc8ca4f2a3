"""Test suites: ordered lists of existing cases, of varied sizes.

The first suite is the full regression, holding `SeedSize.largest_suite` cases (all of them up
to 200); every other suite is one kind of run over one feature area, drawn from that area's cases
first, and is never larger than the first.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from beanie import PydanticObjectId

from documents.configurations import BrowserConfiguration, TestEnvironment
from documents.test_defs import TestCase, TestSuite
from scripts.seeding.context import SeedContext, Seeder, UniqueNames, Window, build
from scripts.seeding.flows import AREAS

CREATED: Window = (0.3, 1.0)
KINDS = (
    "smoke",
    "regression",
    "nightly",
    "sanity",
    "critical path",
    "end-to-end",
    "cross-browser",
    "release gate",
    "accessibility",
    "visual",
)
FULL_REGRESSION = "Full regression"


def _size(context: SeedContext, largest: int) -> int:
    """Most suites are small and a few large: a median of 15 cases, rarely more than 100."""
    return max(1, min(largest, round(context.rng.lognormvariate(math.log(15), 0.9))))


def _pick(
    context: SeedContext, pool: list[PydanticObjectId], everything: list[PydanticObjectId], k: int
) -> list[PydanticObjectId]:
    """`k` distinct cases, from `pool` first, topped up from `everything` (k <= len(everything)).

    Drawing one case at a time keeps the work proportional to `k`, never to the number of cases.
    """
    chosen = context.rng.sample(pool, min(k, len(pool)))
    seen = set(chosen)
    while len(chosen) < k:
        candidate = context.rng.choice(everything)
        if candidate not in seen:
            seen.add(candidate)
            chosen.append(candidate)
    return chosen


def suites(context: SeedContext) -> Iterator[TestSuite]:
    rng = context.rng
    cases = context.seeded(TestCase)
    everything = [case.id for case in cases if case.id is not None]
    by_area: dict[str, list[PydanticObjectId]] = {area.slug: [] for area in AREAS}
    for case in cases:
        if case.id is not None and case.tags and case.tags[0] in by_area:
            by_area[case.tags[0]].append(case.id)
    browsers = context.seeded(BrowserConfiguration)
    environments = context.seeded(TestEnvironment)
    largest = context.size.largest_suite
    themes = [(area, kind) for area in AREAS for kind in KINDS]
    rng.shuffle(themes)
    names = UniqueNames()
    for index in range(context.size.suites):
        if index == 0:
            name, tags = FULL_REGRESSION, ["regression"]
            description = "Every active area, before each release"
            members = rng.sample(everything, largest)
        else:
            area, kind = themes[(index - 1) % len(themes)]
            name, tags = f"{area.title} {kind}", [kind.replace(" ", "-"), area.slug]
            description = f"{kind.capitalize()} tests of the {area.title.lower()} area"
            members = _pick(context, by_area[area.slug], everything, _size(context, largest))
        browser = context.maybe(0.5, browsers)
        environment = context.maybe(0.6, environments)
        yield build(
            TestSuite,
            **context.history(CREATED),
            name=names.take(name),
            description=description,
            tags=tags,
            test_case_ids=members,
            browser_configuration_id=browser.id if browser else None,
            environment_id=environment.id if environment else None,
        )


SEEDERS = (Seeder(TestSuite, lambda context: context.size.suites, suites),)
