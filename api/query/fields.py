"""Field selection: list items as a model whose fields may be left out by `fields=`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, create_model
from pydantic.fields import FieldInfo


def partial_model[T: BaseModel](model: type[T], *, name: str | None = None) -> type[T]:
    """A subclass of `model` where every field but `id` may be absent.

    List routes answer with it and `response_model_exclude_unset=True`: without `fields=` an item
    is the full read model; with it, only the chosen fields (and `id`) appear. Subclassing keeps
    the model's validators, so e.g. secret masking applies to selected fields too.
    """
    overrides: dict[str, Any] = {
        field: (_kept(info) | None, None)
        for field, info in model.model_fields.items()
        if field != "id"
    }
    return create_model(
        name or f"{model.__name__}Item",
        __base__=model,
        __doc__=f"{model.__doc__ or model.__name__} Fields outside `fields=` are omitted.",
        **overrides,
    )


def _kept(info: FieldInfo) -> Any:
    """The field's type with its validators and constraints (an `ObjectIdStr` stays one)."""
    if not info.metadata:
        return info.annotation
    return Annotated[info.annotation, *info.metadata]
