"""The pure image sniffer and header parser."""

from __future__ import annotations

import pytest

from api.artifacts.images import ImageType, dimensions, sniff
from tests.api.artifacts.images_samples import jpeg, png, webp_vp8, webp_vp8l, webp_vp8x


@pytest.mark.parametrize(
    ("data", "kind", "size"),
    [
        (png(3, 2), ImageType.PNG, (3, 2)),
        (png(1920, 1080), ImageType.PNG, (1920, 1080)),
        (jpeg(5, 4), ImageType.JPEG, (5, 4)),
        (jpeg(1280, 720, app_bytes=60_000), ImageType.JPEG, (1280, 720)),
        (webp_vp8l(7, 9), ImageType.WEBP, (7, 9)),
        (webp_vp8(10, 6), ImageType.WEBP, (10, 6)),
        (webp_vp8x(300, 200), ImageType.WEBP, (300, 200)),
    ],
)
def test_type_and_dimensions(data: bytes, kind: ImageType, size: tuple[int, int]) -> None:
    assert sniff(data[:12]) is kind
    assert dimensions(kind, data) == size


@pytest.mark.parametrize(
    "data", [b"", b"hello, world", b"GIF89a......", b"RIFF\x00\x00\x00\x00WAVE", b"%PDF-1.7 x"]
)
def test_other_bytes_are_no_image(data: bytes) -> None:
    assert sniff(data) is None


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (ImageType.PNG, png()[:20]),  # cut inside IHDR
        (ImageType.PNG, b"\x89PNG\r\n\x1a\n" + b"\x00" * 16),  # no IHDR
        (ImageType.JPEG, jpeg()[:30]),  # cut before the frame header
        (ImageType.JPEG, b"\xff\xd8\xff\xda\x00\x04\x00\x00"),  # a scan before any frame
        (ImageType.JPEG, b"\xff\xd8\x00\x00\x00\x00"),  # no marker
        (ImageType.JPEG, b"\xff\xd8\xff\xe0\x00\x01\x00\x00"),  # a length below 2
        (ImageType.WEBP, webp_vp8l()[:20]),
        (ImageType.WEBP, webp_vp8()[:22] + b"\x00" * 12),  # no VP8 start code
        (ImageType.WEBP, webp_vp8l()[:20] + b"\x00" * 12),  # no VP8L signature
        (ImageType.WEBP, b"RIFF\x00\x00\x00\x00WEBPALPH" + b"\x00" * 20),  # unknown chunk
        (ImageType.PNG, png(0, 5)),  # zero width
    ],
)
def test_headers_without_dimensions(kind: ImageType, data: bytes) -> None:
    assert dimensions(kind, data) is None


def test_jpeg_fill_bytes_and_standalone_markers_are_skipped() -> None:
    data = jpeg(8, 3)
    # RST0 (no length) before the APP0 segment; a fill byte before a marker.
    assert dimensions(ImageType.JPEG, data[:2] + b"\xff\xd0" + data[2:]) == (8, 3)
    assert dimensions(ImageType.JPEG, data[:2] + b"\xff" + data[2:]) == (8, 3)
