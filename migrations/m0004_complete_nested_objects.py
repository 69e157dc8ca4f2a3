"""Complete the nested objects that partial PATCHes stored without their optional fields.

Until this version a PATCH stored only the fields the client sent inside each list item, so
`PATCH /templates/{id}` with `{"parameters": [{"name": "url"}]}` stored a parameter without
`description` and `default`, and every list page holding that template failed to read. The API now
stores complete objects; this fills the keys those writes left out with null, which is what a
complete write stores for them.

Where such a partial item could be stored (the validators of m0001 refuse a missing required key,
so only nullable keys can be missing):
- `test_templates.parameters`: `description`, `default` (the damage seen);
- `test_templates.steps` and `test_cases.steps`: `selector`, `value`, `description`, `expected`
  (the services always wrote complete steps, checked here all the same);
- `test_environments.variables` needs nothing: each key is required by the validator.

Each document is rewritten only while its list is the one read, and nothing else changes
(`updated_at` and `version` stay: the data means what it meant). Safe to re-run.
"""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

VERSION = 4
NAME = "complete nested objects"

_STEP_KEYS = ("selector", "value", "description", "expected")

# (collection, list field, keys a complete item has that may be missing, as null).
NULLABLE_ITEM_KEYS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("test_templates", "parameters", ("description", "default")),
    ("test_templates", "steps", _STEP_KEYS),
    ("test_cases", "steps", _STEP_KEYS),
)


def _completed(item: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(item, dict):
        return item
    return {**item, **{key: None for key in keys if key not in item}}


async def forward(db: AsyncDatabase[Any]) -> None:
    for collection_name, field, keys in NULLABLE_ITEM_KEYS:
        collection = db[collection_name]
        incomplete = {"$or": [{field: {"$elemMatch": {key: {"$exists": False}}}} for key in keys]}
        async for document in collection.find(incomplete, {field: 1}):
            items = document[field]
            await collection.update_one(
                {"_id": document["_id"], field: items},
                {"$set": {field: [_completed(item, keys) for item in items]}},
            )


async def backward(db: AsyncDatabase[Any]) -> None:
    """Nothing to undo: the keys added hold null, which the earlier code read and wrote as well,
    and removing them would bring back documents that fail to list."""
