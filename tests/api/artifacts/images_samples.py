"""Tiny valid images built in code (no files, no Pillow)."""

from __future__ import annotations

import hashlib
import struct
import zlib


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png(width: int = 3, height: int = 2, *, seed: int = 0) -> bytes:
    """A valid RGB PNG; `seed` changes the pixels (so the bytes) without changing the size."""
    chunk = _png_chunk

    rows = b"".join(
        b"\x00" + bytes((seed + x + y) % 256 for x in range(width * 3)) for y in range(height)
    )
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def png_of_size(size: int, *, seed: int = 0) -> bytes:
    """A valid PNG of exactly `size` bytes: `png()` with a private ancillary chunk (`jbTs`,
    which decoders skip) of random bytes, so no stretch of it repeats another."""
    small = png(seed=seed)
    padding = size - len(small) - 12  # a chunk's length, type and CRC
    assert padding >= 0, f"a PNG takes at least {len(small) + 12} bytes"
    extra = _png_chunk(b"jbTs", hashlib.shake_256(str(seed).encode()).digest(padding))
    header = 8 + 25  # the signature and IHDR, which come first
    data = small[:header] + extra + small[header:]
    assert len(data) == size
    return data


def jpeg(width: int = 5, height: int = 4, *, app_bytes: int = 16) -> bytes:
    """A JPEG header (SOI, an APP0 segment of `app_bytes`, a DQT, SOF0) and EOI: enough for a
    parser of dimensions, which is all the service reads."""
    app0 = b"\xff\xe0" + struct.pack(">H", app_bytes + 2) + b"J" * app_bytes
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(64)
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + dqt + sof0 + b"\xff\xd9"


def webp_vp8l(width: int = 7, height: int = 9) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    payload = b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 8
    return _riff(b"VP8L", payload)


def webp_vp8(width: int = 10, height: int = 6) -> bytes:
    payload = b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\x00" * 10
    return _riff(b"VP8 ", payload)


def webp_vp8x(width: int = 300, height: int = 200) -> bytes:
    payload = (
        b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    return _riff(b"VP8X", payload)


def _riff(kind: bytes, payload: bytes) -> bytes:
    body = b"WEBP" + kind + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body
