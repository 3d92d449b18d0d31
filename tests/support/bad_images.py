"""A corpus of bad and awkward input files, made by the project (never downloaded)."""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from pathlib import Path

from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "images"
REPLIES = EXAMPLES.parent / "replies"


def _png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size: a decompression bomb for naive readers."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def make_bad_corpus(folder: Path) -> dict[str, str]:
    """Writes the bad files; returns file name -> a phrase its error must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    good = (EXAMPLES / "sum_even.png").read_bytes()
    (folder / "empty.png").write_bytes(b"")
    (folder / "truncated.png").write_bytes(good[: len(good) // 3])
    (folder / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (folder / "notes.txt").write_text("this is not an image\n")
    (folder / "bomb.png").write_bytes(_png_header_claiming(100_000, 100_000))
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10), "white").save(buffer, format="ICO")
    (folder / "icon.ico").write_bytes(buffer.getvalue())
    return {
        "empty.png": "the file is empty",
        "truncated.png": "corrupt or truncated image",
        "garbage.png": "not an image",
        "notes.txt": "not an image",
        "bomb.png": "decompression bomb",
        "icon.ico": "unsupported image format ICO",
    }


def make_awkward_copies(folder: Path) -> list[str]:
    """Readable but unusual variants of an example, each normalised rather than rejected.

    Each copy gets the stem of a scripted example so its replies exist; returns the stems.
    """
    folder.mkdir(parents=True, exist_ok=True)
    source = Image.open(EXAMPLES / "palindrome.png").convert("RGB")
    # rotated pixels + EXIF orientation tag: the reader must turn it back upright
    rotated = source.rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    rotated.save(folder / "palindrome.jpg", exif=exif, quality=95)
    frames = [source.convert("P"), source.convert("P").rotate(180)]
    frames[0].save(folder / "reverse_words.gif", save_all=True, append_images=frames[1:])
    rgba = Image.open(EXAMPLES / "sum_even.png").convert("RGBA")
    rgba.putalpha(200)
    rgba.save(folder / "sum_even.png")
    return ["palindrome", "reverse_words", "sum_even"]


# examples whose task gives nothing executable: they end "unverified", by design
UNVERIFIABLE = {"word_stats"}


def copy_examples(folder: Path, count: int, replies: Path | None = None) -> list[Path]:
    """``count`` distinct copies of the examples (distinct bytes -> distinct thread ids),
    with a scripted-replies file per copy in ``replies`` when given."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for p in EXAMPLES.glob("*.png") if p.stem not in UNVERIFIABLE)
    paths = []
    for index in range(count):
        source = sources[index % len(sources)]
        target = folder / f"{source.stem}__{index:03d}.png"
        shutil.copy(source, target)
        with target.open("ab") as handle:  # trailing bytes after IEND: same image, new hash
            handle.write(f"copy {index}".encode())
        paths.append(target)
        if replies is not None:
            replies.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPLIES / f"{source.stem}.yaml", replies / f"{target.stem}.yaml")
    return paths
