"""The pixel budget of an image a job returned, read from its PNG header before anything on the
host decodes it.

A few hundred kilobytes of PNG can declare 13,370 x 13,370 16-bit pixels: decoding that took the
host's figure comparison 3.65 GB and 14 s of CPU (issue 22, case 6), just under Pillow's own
decompression-bomb threshold. The header (signature, then the IHDR chunk) says width, height,
bit depth and colour type in its first 33 bytes, so the budget costs no decode at all.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 25_000_000
# what a full decode may take in memory (width x height x channels x bytes per sample)
MAX_DECODED_BYTES = 200 * 1024 * 1024
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel (3: palette)


def png_budget_problem(
    path: str | Path,
    *,
    max_pixels: int = MAX_PIXELS,
    max_decoded_bytes: int = MAX_DECODED_BYTES,
    name: str = "output.png",
) -> str | None:
    """None when the file is a PNG the host may decode; else a failed check for the coder."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(33)
    except OSError as exc:
        return f"{name} could not be read ({exc.strerror})"
    if len(head) < 33 or not head.startswith(SIGNATURE):
        return f"{name} is not a PNG file: save the figure with fig.savefig({name!r}) as PNG"
    length, kind = struct.unpack(">I4s", head[8:16])
    if kind != b"IHDR" or length != 13:
        return f"{name} is not a valid PNG (its first chunk is not a 13-byte IHDR)"
    if zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]:
        return f"{name} is not a valid PNG (its header checksum is wrong)"
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    if colour not in CHANNELS or depth not in (1, 2, 4, 8, 16):
        return f"{name} is not a valid PNG (bit depth {depth}, colour type {colour})"
    pixels = width * height
    # the comparison decodes to RGB at least: a palette image costs 3 bytes a pixel there
    decoded = pixels * max(3, CHANNELS[colour]) * max(1, depth // 8)
    if pixels == 0:
        return f"{name} is empty (0 pixels)"
    if pixels > max_pixels or decoded > max_decoded_bytes:
        return (
            f"{name} is {width} x {height} pixels at {depth} bits per sample, over the "
            f"{max_pixels // 1_000_000} megapixel / {max_decoded_bytes // (1024 * 1024)} MB budget "
            "for a rendered figure: save it at the target image's size (figsize and dpi), "
            "8 bits per sample"
        )
    return None
