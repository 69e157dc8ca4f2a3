"""Test cases: 3-12 steps in one feature area, some instantiated from a template.

A case may use a browser configuration and an environment (its steps then open that environment's
pages), has an owner, tags (its area's first), a status and a priority weighted the way a living
suite has them, and most have an `automation_key`, unique by construction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from api.templates.placeholders import TEMPLATED_FIELDS, placeholders, substitute
from documents.configurations import BrowserConfiguration, TestEnvironment
from documents.test_defs import CaseStatus, Priority, TestCase, TestTemplate
from scripts.seeding.context import SeedContext, Seeder, Window, build
from scripts.seeding.flows import (
    AREAS,
    MAX_STEPS,
    MIN_STEPS,
    PARAMETERS,
    Area,
    flow,
    navigate,
    step_fields,
    written_value,
)

CREATED: Window = (0.1, 1.0)
STATUSES = {
    CaseStatus.ACTIVE: 65,
    CaseStatus.DRAFT: 15,
    CaseStatus.DEPRECATED: 12,
    CaseStatus.ARCHIVED: 8,
}
PRIORITIES = {Priority.LOW: 20, Priority.MEDIUM: 45, Priority.HIGH: 25, Priority.CRITICAL: 10}
TAGS = (
    "smoke",
    "regression",
    "critical-path",
    "sanity",
    "e2e",
    "mobile",
    "a11y",
    "visual",
    "flaky",
    "slow",
    "nightly",
    "wip",
    "payments",
    "security",
)
EXTRA_TAGS = {0: 20, 1: 40, 2: 30, 3: 10}  # how many tags besides the area's, weighted
VARIANTS = (
    "on a phone",
    "as a returning customer",
    "on a slow network",
    "with an empty profile",
    "after a release",
    "with the new checkout flag",
    "in German",
    "with ad blockers on",
)
PRECONDITIONS = (
    "A registered customer account exists",
    "The catalogue holds products in stock",
    "The user is signed out",
    "The cart is empty",
    "Payments run against the provider's test mode",
    "The feature flag new-checkout is on",
)
NOTES = (
    "Regression test for {ticket}.",
    "Found by exploratory testing; automated in {ticket}.",
    "Keep in step with the mobile app's flow.",
    "Runs against the seeded catalogue.",
    "Flaky on WebKit until {ticket} is fixed.",
)
# How often a case uses each kind of reference.
TEMPLATE_SHARE = 0.2
BROWSER_SHARE = 0.35
ENVIRONMENT_SHARE = 0.5
AREAS_BY_SLUG = {area.slug: area for area in AREAS}


def _owners(context: SeedContext) -> list[str]:
    """The people who write tests: one for about every 25 cases, between 4 and 60."""
    count = max(4, min(60, context.size.test_cases // 25))
    return [context.faker.unique.user_name() for _ in range(count)]


def _steps(
    context: SeedContext, area: Area, template: TestTemplate | None, base_url: str
) -> list[dict[str, Any]]:
    """The case's steps, numbered 1..n, each with its own id.

    Written like a template's (placeholders for parameters), then filled in as instantiating a
    template does: a parameter used twice (a password and its confirmation) has one value.
    """
    rng, faker = context.rng, context.faker
    defaults: dict[str, str | None] = {}
    if template is not None:
        steps = [step.model_dump() for step in template.steps]
        defaults = {parameter.name: parameter.default for parameter in template.parameters}
        if len(steps) < MAX_STEPS and context.chance(0.5):
            check = rng.choice(area.checks)
            steps.append(step_fields(check, order=0, value=written_value(check, faker)))
    else:
        specs = [
            navigate(area, "{{base_url}}"),
            *flow(area, rng, rng.randint(MIN_STEPS, MAX_STEPS) - 1),
        ]
        steps = [step_fields(spec, order=0, value=written_value(spec, faker)) for spec in specs]
    values = {"base_url": base_url}
    for step in steps:
        for field in TEMPLATED_FIELDS:
            for name in placeholders(step[field]):
                if name not in values:
                    values[name] = defaults.get(name) or PARAMETERS[name].fake(faker)
            step[field] = substitute(step[field], values)
    ids = context.step_ids(len(steps))
    return [
        {**step, "id": step_id, "order": order}
        for order, (step_id, step) in enumerate(zip(ids, steps, strict=True), start=1)
    ]


def _slug(text: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def cases(context: SeedContext) -> Iterator[TestCase]:
    rng, faker = context.rng, context.faker
    browsers = context.seeded(BrowserConfiguration)
    environments = context.seeded(TestEnvironment)
    templates = context.seeded(TestTemplate)
    owners = _owners(context)
    for index in range(1, context.size.test_cases + 1):
        template = context.maybe(TEMPLATE_SHARE, templates)
        area = AREAS_BY_SLUG[template.category or ""] if template else rng.choice(AREAS)
        environment = context.maybe(ENVIRONMENT_SHARE, environments)
        base_url = (environment or rng.choice(environments)).base_url
        browser = context.maybe(BROWSER_SHARE, browsers)
        scenario = rng.choice(area.scenarios)
        name = f"{area.title}: {scenario}"
        if context.chance(0.3):
            name = f"{name} {rng.choice(VARIANTS)}"
        extra = rng.sample(TAGS, context.weighted(EXTRA_TAGS))
        steps = _steps(context, area, template, base_url)
        note = rng.choice(NOTES).format(ticket=faker.bothify("SHOP-####"))
        yield build(
            TestCase,
            **context.history(CREATED),
            name=name,
            description=f"{scenario[0].upper()}{scenario[1:]}. {note}",
            status=context.weighted(STATUSES),
            priority=context.weighted(PRIORITIES),
            tags=[area.slug, *extra],
            preconditions=context.maybe(0.6, list(PRECONDITIONS)),
            expected_result=steps[-1]["expected"],
            target_url=f"{base_url}{area.path}",
            owner=context.maybe(0.9, owners),
            automation_key=(
                f"e2e.{area.slug}.test_{_slug(scenario)}[{index:05d}]"
                if context.chance(0.6)
                else None
            ),
            template_id=template.id if template else None,
            browser_configuration_id=browser.id if browser else None,
            environment_id=environment.id if environment else None,
            steps=steps,
        )


SEEDERS = (Seeder(TestCase, lambda context: context.size.test_cases, cases),)
