"""List parameters of test templates."""

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from api.query import AnyOf, CommaList, ListParams
from api.query.filters import ListText
from api.query.listing import selectable
from api.templates.schemas import TemplateRead


class TemplateSortField(StrEnum):
    NAME = "name"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


class TemplateListParams(ListParams):
    selectable_fields: ClassVar[frozenset[str]] = selectable(TemplateRead)

    sort_by: TemplateSortField = TemplateSortField.CREATED_AT
    category: Annotated[
        CommaList[ListText] | None,
        AnyOf("category"),
        Field(description="Any of these categories, e.g. `authentication,checkout`."),
    ] = None
