"""Screenshot thumbnails for HTML reports: small JPEGs as `data:` URIs.

A report is downloaded as a file and opened where the service may be unreachable, or reachable
only with an API key an `<img>` cannot send: its thumbnails are therefore part of the page. For
the screenshots a report shows (in the order it shows them), each distinct GridFS file (identical
bytes are stored once) is read, decoded by Pillow in a worker thread, fitted into `BOX` keeping
its aspect ratio and encoded as a JPEG of at most about `TARGET_BYTES`. Files are handled one at
a time, so memory stays bounded by one screenshot (at most `MAX_PIXELS` decoded).

A screenshot gets no thumbnail (the page shows its link only) when its metadata or bytes are
gone, when it does not decode (a corrupt file that passed the upload's sniffing), when it is
larger than `MAX_PIXELS`, or when the report already has `MAX_THUMBNAILS` files made.
"""

from __future__ import annotations

import asyncio
import base64
import io
import warnings
from collections.abc import Iterable

from beanie import PydanticObjectId
from bson import ObjectId
from PIL import Image

from api.artifacts import screenshot_service
from api.errors import NotFound

MAX_THUMBNAILS = 200
"""Distinct screenshot files given a thumbnail per report; later ones get a link only. At about
`TARGET_BYTES` each (a third more in base64), a report's thumbnails stay under ~5 MB."""
BOX = (320, 200)
"""The largest width and height of a thumbnail."""
TARGET_BYTES = 20 * 1024
"""The size a thumbnail aims at: the JPEG quality steps down (`QUALITIES`) until it fits."""
QUALITIES = (75, 60, 45, 30)
MAX_PIXELS = 25_000_000
"""The most pixels a screenshot may have to be decoded (a 1,920 x 13,000 full-page capture):
about 100 MB while decoded. Pillow's decompression-bomb limit is set to it."""
FORMATS = ("PNG", "JPEG", "WEBP")
"""The formats Pillow may read: those an upload accepts (no other decoder is tried)."""

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class Unusable(Exception):
    """An image that gets no thumbnail."""


def thumbnail(data: bytes) -> str:
    """A `data:image/jpeg;base64,...` URI of `data` fitted into `BOX` (CPU only: run it in a
    worker thread). Raises `Unusable` for anything that does not decode within the limits."""
    try:
        with warnings.catch_warnings():
            # Between MAX_PIXELS and twice it, Pillow only warns: refuse those too. (The filter
            # is process-wide while it is set; the explicit check below holds whatever it is.)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise Unusable(f"{image.width} x {image.height} pixels")
                if image.format == "JPEG":
                    image.draft("RGB", BOX)  # decode at a reduced scale: less memory and time
                image.thumbnail(BOX)
                small = _opaque(image)
    except Unusable:
        raise
    except Exception as exc:  # a decoder's failure on untrusted bytes, whatever its kind
        raise Unusable(f"does not decode: {exc!r}") from exc
    encoded = b""
    for quality in QUALITIES:
        buffer = io.BytesIO()
        small.save(buffer, format="JPEG", quality=quality, optimize=True)
        encoded = buffer.getvalue()
        if len(encoded) <= TARGET_BYTES:
            break
    return "data:image/jpeg;base64," + base64.b64encode(encoded).decode("ascii")


def _opaque(image: Image.Image) -> Image.Image:
    """The image in RGB, transparent parts on white (JPEG has no alpha)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


async def _read(screenshot_id: ObjectId) -> tuple[ObjectId, bytes] | None:
    """The screenshot's file id and bytes, or None if either is gone."""
    try:
        screenshot = await screenshot_service.get_screenshot(id=PydanticObjectId(screenshot_id))
        if (screenshot.width or 0) * (screenshot.height or 0) > MAX_PIXELS:
            return None  # known too large from its upload: not worth reading
        content = await screenshot_service.open_content(screenshot=screenshot)
        data = b"".join([chunk async for chunk in content.chunks()])
    except NotFound:
        return None
    return content.file_id, data


async def thumbnails(screenshot_ids: Iterable[ObjectId]) -> dict[ObjectId, str]:
    """The `data:` URI of each screenshot that gets one (see the module), by screenshot id."""
    made: dict[ObjectId, str] = {}
    by_file: dict[ObjectId, str | None] = {}
    seen: set[ObjectId] = set()
    for screenshot_id in screenshot_ids:
        if screenshot_id in seen:
            continue
        seen.add(screenshot_id)
        if len(by_file) >= MAX_THUMBNAILS:
            break
        found = await _read(screenshot_id)
        if found is None:
            continue
        file_id, data = found
        if file_id not in by_file:
            try:
                by_file[file_id] = await asyncio.to_thread(thumbnail, data)
            except Unusable:
                by_file[file_id] = None
        uri = by_file[file_id]
        if uri is not None:
            made[screenshot_id] = uri
    return made
