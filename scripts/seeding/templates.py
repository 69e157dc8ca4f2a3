"""Test templates: an area's flow with `{{parameter}}` placeholders, every one declared."""

from __future__ import annotations

from collections.abc import Iterator

from documents.configurations import TestEnvironment
from documents.test_defs import TestTemplate
from scripts.seeding.context import SeedContext, Seeder, UniqueNames, Window, build
from scripts.seeding.flows import (
    AREAS,
    MAX_STEPS,
    MIN_STEPS,
    PARAMETERS,
    flow,
    navigate,
    step_fields,
    written_value,
)

CREATED: Window = (0.05, 0.3)
KINDS = ("happy path", "smoke flow", "full flow", "mobile flow", "regression flow", "quick check")
# Room for a test case to add a check of its own to an instantiated template.
MAX_TEMPLATE_STEPS = MAX_STEPS - 1


def templates(context: SeedContext) -> Iterator[TestTemplate]:
    faker, rng = context.faker, context.rng
    base_urls = [environment.base_url for environment in context.seeded(TestEnvironment)]
    names = UniqueNames()
    for index in range(context.size.templates):
        area = AREAS[index % len(AREAS)]
        specs = [
            navigate(area, "{{base_url}}"),
            *flow(area, rng, rng.randint(MIN_STEPS, MAX_TEMPLATE_STEPS) - 1),
        ]
        used = dict.fromkeys(["base_url", *(s.parameter for s in specs if s.parameter)])
        parameters = []
        for name in used:
            parameter = PARAMETERS[name]
            default = None
            if name == "base_url":
                default = rng.choice(base_urls)
            elif parameter.has_default and context.chance(0.6):
                default = parameter.fake(faker)
            parameters.append(
                {"name": name, "description": parameter.description, "default": default}
            )
        yield build(
            TestTemplate,
            **context.history(CREATED),
            name=names.take(f"{area.title}: {rng.choice(KINDS)}"),
            description=f"Reusable steps: {rng.choice(area.scenarios)}.",
            category=area.slug,
            parameters=parameters,
            steps=[
                step_fields(spec, order=order, value=written_value(spec, faker))
                for order, spec in enumerate(specs, start=1)
            ],
        )


SEEDERS = (Seeder(TestTemplate, lambda context: context.size.templates, templates),)
