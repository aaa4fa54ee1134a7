"""Draw formshield's toolbar icons (a blue shield with a white bar) as PNG files.

Run from anywhere: ``python3 extension/icons/make_icons.py``. Uses the standard library only
(zlib, struct), so the icons can be rebuilt without image tools; 4x4 supersampling smooths edges.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

SIZES = (16, 32, 48, 128)
BLUE = (21, 101, 192)
WHITE = (255, 255, 255)
SAMPLES = 4


def in_shield(x: float, y: float) -> bool:
    """Point (0..1 coordinates) inside a shield: flat top, straight sides, curved point below."""
    dx, half_width = abs(x - 0.5), 0.38
    if y < 0.08 or y > 0.94:
        return False
    if y <= 0.5:
        return dx <= half_width
    # below the middle the sides curve in to the point at y = 0.94
    t = (y - 0.5) / 0.44
    return bool(dx <= half_width * (1 - t**1.6))


def in_bar(x: float, y: float) -> bool:
    """The white horizontal bar across the shield (a redaction mark)."""
    return 0.27 <= x <= 0.73 and 0.40 <= y <= 0.54


def pixel(size: int, px: int, py: int) -> tuple[int, int, int, int]:
    hits_shield = hits_bar = 0
    for sy in range(SAMPLES):
        for sx in range(SAMPLES):
            x = (px + (sx + 0.5) / SAMPLES) / size
            y = (py + (sy + 0.5) / SAMPLES) / size
            if in_shield(x, y):
                hits_shield += 1
                hits_bar += in_bar(x, y)
    n = SAMPLES * SAMPLES
    if not hits_shield:
        return (0, 0, 0, 0)
    share_bar = hits_bar / hits_shield
    r, g, b = (round(c * (1 - share_bar) + w * share_bar) for c, w in zip(BLUE, WHITE, strict=True))
    return (r, g, b, round(255 * hits_shield / n))


def png(size: int) -> bytes:
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(size, x, y)) for x in range(size)) for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    here = Path(__file__).resolve().parent
    for size in SIZES:
        (here / f"icon-{size}.png").write_bytes(png(size))


if __name__ == "__main__":
    main()
