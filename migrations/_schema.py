"""Small builders for `$jsonSchema` validators and an idempotent collection helper.

Only migrations use this module. It is a vocabulary, not a model: what each migration creates is
spelled out in the migration itself.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

Schema = dict[str, Any]


def string(
    *, min_length: int | None = None, pattern: str | None = None, nullable: bool = False
) -> Schema:
    schema: Schema = {"bsonType": ["string", "null"] if nullable else "string"}
    if min_length is not None:
        schema["minLength"] = min_length
    if pattern is not None:
        schema["pattern"] = pattern
    return schema


def enum(*values: str, nullable: bool = False) -> Schema:
    allowed: list[str | None] = list(values)
    if nullable:
        allowed.append(None)
    return {"enum": allowed}


def integer(*, minimum: int | None = None, nullable: bool = False) -> Schema:
    schema: Schema = {"bsonType": ["int", "long", "null"] if nullable else ["int", "long"]}
    if minimum is not None:
        schema["minimum"] = minimum
    return schema


def number(
    *, minimum: float | None = None, maximum: float | None = None, nullable: bool = False
) -> Schema:
    types = ["double", "int", "long", "decimal"]
    schema: Schema = {"bsonType": [*types, "null"] if nullable else types}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def boolean() -> Schema:
    return {"bsonType": "bool"}


def date(*, nullable: bool = False) -> Schema:
    return {"bsonType": ["date", "null"] if nullable else "date"}


def binary() -> Schema:
    return {"bsonType": "binData"}


def object_id(*, nullable: bool = False) -> Schema:
    return {"bsonType": ["objectId", "null"] if nullable else "objectId"}


def array(items: Schema | None = None) -> Schema:
    schema: Schema = {"bsonType": "array"}
    if items is not None:
        schema["items"] = items
    return schema


def free_object(*, nullable: bool = False) -> Schema:
    return {"bsonType": ["object", "null"] if nullable else "object"}


def obj(
    properties: Mapping[str, Schema], *, required: Sequence[str] = (), nullable: bool = False
) -> Schema:
    schema: Schema = {
        "bsonType": ["object", "null"] if nullable else "object",
        "properties": dict(properties),
    }
    if required:
        schema["required"] = list(required)
    return schema


def timestamped(
    properties: Mapping[str, Schema], *, required: Sequence[str] = ()
) -> dict[str, Schema]:
    """The validator of a top-level collection: its own fields plus created_at/updated_at."""
    return {
        "$jsonSchema": obj(
            {**properties, "created_at": date(), "updated_at": date()},
            required=[*required, "created_at", "updated_at"],
        )
    }


async def ensure_collection(
    db: AsyncDatabase[Any],
    name: str,
    *,
    validator: Mapping[str, Any] | None,
    indexes: Sequence[IndexModel],
) -> None:
    """Create the collection with its validator and indexes, or bring an existing one in line.

    Re-running is harmless: an existing collection gets the validator through `collMod` (skipped
    when it already has exactly this validator, so engines without `collMod` can re-run too), and
    `create_indexes` is a no-op for indexes that already exist with the same options.
    """
    existing = {info["name"]: info async for info in await db.list_collections()}
    if name not in existing:
        options: dict[str, Any] = {}
        if validator is not None:
            options["validator"] = dict(validator)
            options["validationLevel"] = "strict"
            options["validationAction"] = "error"
        await db.create_collection(name, **options)
    elif validator is not None and existing[name].get("options", {}).get("validator") != validator:
        try:
            await db.command("collMod", name, validator=dict(validator))
        except OperationFailure as exc:
            raise RuntimeError(
                f"collection {name} exists with a different validator and this deployment "
                f"cannot change it (collMod failed: {exc.details and exc.details.get('errmsg')})"
            ) from exc
    if indexes:
        await db[name].create_indexes(list(indexes))


async def drop_collection(db: AsyncDatabase[Any], name: str) -> None:
    await db.drop_collection(name)
