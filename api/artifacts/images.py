"""What an image is, from its first bytes: PNG, JPEG or WebP, and its width and height.

Pure functions over the head of a file (no Pillow): `sniff` needs `SNIFF_BYTES`, `dimensions`
reads the header (PNG IHDR, JPEG SOF marker, WebP VP8/VP8L/VP8X) and answers None where the
bytes given end before it or do not hold one.
"""

from __future__ import annotations

import struct
from enum import StrEnum


class ImageType(StrEnum):
    PNG = "image/png"
    JPEG = "image/jpeg"
    WEBP = "image/webp"


SNIFF_BYTES = 12
"""How many leading bytes `sniff` needs to decide."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"
# Start-of-frame markers carry the dimensions: SOF0-SOF15 except DHT (C4), JPG (C8), DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers with no length field: TEM, RST0-7 (SOI/EOI end the search anyway).
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def sniff(head: bytes) -> ImageType | None:
    """The image type of a file starting with `head` (at least `SNIFF_BYTES` of it), or None."""
    if head.startswith(PNG_SIGNATURE):
        return ImageType.PNG
    if head.startswith(JPEG_SOI):
        return ImageType.JPEG
    if len(head) >= SNIFF_BYTES and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ImageType.WEBP
    return None


def dimensions(kind: ImageType, head: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of an image of type `kind`; None if `head` has none."""
    match kind:
        case ImageType.PNG:
            found = _png(head)
        case ImageType.JPEG:
            found = _jpeg(head)
        case ImageType.WEBP:
            found = _webp(head)
    if found is None or found[0] < 1 or found[1] < 1:
        return None
    return found


def _png(head: bytes) -> tuple[int, int] | None:
    # Signature (8), then the first chunk: length (4), type "IHDR" (4), width (4), height (4).
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def _jpeg(head: bytes) -> tuple[int, int] | None:
    position = 2  # after SOI
    while position + 4 <= len(head):
        if head[position] != 0xFF:
            return None
        marker = head[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if marker in (0xD8, 0xD9, 0xDA):  # SOI again, EOI, or the scan before any frame
            return None
        (length,) = struct.unpack(">H", head[position + 2 : position + 4])
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            # Segment: length (2), precision (1), height (2), width (2).
            if position + 9 > len(head):
                return None
            height, width = struct.unpack(">HH", head[position + 5 : position + 9])
            return width, height
        position += 2 + length
    return None


def _webp(head: bytes) -> tuple[int, int] | None:
    # RIFF (4) size (4) WEBP (4), then the first chunk: fourcc (4), size (4), payload.
    if len(head) < 30:
        return None
    chunk, payload = head[12:16], head[20:]
    if chunk == b"VP8 ":
        # Frame tag (3), start code 9D 01 2A (3), then 14-bit width and height.
        if payload[3:6] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", payload[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        # Signature 0x2F, then 14 bits width - 1 and 14 bits height - 1 (little-endian bits).
        if payload[0] != 0x2F:
            return None
        bits = int.from_bytes(payload[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        # Flags (1), reserved (3), canvas width - 1 (3), canvas height - 1 (3), little-endian.
        width = int.from_bytes(payload[4:7], "little") + 1
        height = int.from_bytes(payload[7:10], "little") + 1
        return width, height
    return None
