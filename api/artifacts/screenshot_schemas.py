"""Screenshots: the upload's form fields, the metadata read back, and the list parameters."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from api.query import CursorListParams, Equals
from api.query.listing import selectable
from api.schemas import InputModel, ObjectIdInput, ObjectIdStr, ReadModel, Timestamp

StepId = Annotated[str, Field(min_length=1, max_length=64, examples=["a1b2c3d4e5f6"])]
MAX_FILENAME_LENGTH = 255


class ScreenshotForm(InputModel):
    """The multipart fields that come with the file."""

    execution_id: ObjectIdInput
    step_id: StepId | None = None
    taken_at: Timestamp | None = None


class ScreenshotRead(ReadModel):
    """A screenshot's metadata. Its bytes are at `/artifacts/screenshots/{id}/content`."""

    execution_id: ObjectIdStr
    run_id: ObjectIdStr
    step_id: str | None
    step_order: int | None
    file_id: ObjectIdStr = Field(
        description="The GridFS file holding the bytes: uploads of identical bytes share one."
    )
    filename: str | None
    content_type: str = Field(examples=["image/png"])
    size: int = Field(ge=0, description="Bytes.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the bytes (hex).")
    width: int | None
    height: int | None
    taken_at: datetime


class ScreenshotSortField(StrEnum):
    TAKEN_AT = "taken_at"


class ScreenshotListParams(CursorListParams):
    selectable_fields: ClassVar[frozenset[str]] = selectable(ScreenshotRead)

    sort_by: ScreenshotSortField = Field(
        default=ScreenshotSortField.TAKEN_AT, description="Sort field."
    )
    execution_id: Annotated[
        ObjectIdInput | None,
        Equals("execution_id"),
        Field(description="Screenshots of this execution."),
    ] = None
    run_id: Annotated[
        ObjectIdInput | None, Equals("run_id"), Field(description="Screenshots of this run.")
    ] = None
    step_id: Annotated[
        StepId | None, Equals("step_id"), Field(description="Screenshots of this step.")
    ] = None
