"""Render a programming task as a PNG, as a screenshot of a problem statement would look.

Used to (re)make the sample images in ``examples/images`` and by tests that need task images.
Fonts come from matplotlib's bundled DejaVu set, so the output is the same on every machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
TITLE_FONT = FONT_DIR / "DejaVuSans-Bold.ttf"
BODY_FONT = FONT_DIR / "DejaVuSans.ttf"
CODE_FONT = FONT_DIR / "DejaVuSansMono.ttf"


def render_task(title: str, lines: list[str], path: Path, width: int = 900) -> Path:
    """Lines starting with four spaces are drawn as code on a grey band."""
    title_font = ImageFont.truetype(str(TITLE_FONT), 30)
    body_font = ImageFont.truetype(str(BODY_FONT), 22)
    code_font = ImageFont.truetype(str(CODE_FONT), 21)
    line_height, margin = 34, 36
    height = margin * 2 + 60 + line_height * len(lines)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((margin, margin), title, font=title_font, fill=(20, 20, 90))
    y = margin + 60
    for line in lines:
        if line.startswith("    "):
            draw.rectangle(
                (margin - 8, y - 3, width - margin, y + line_height - 5), fill=(238, 238, 238)
            )
            draw.text((margin, y), line[4:], font=code_font, fill=(0, 0, 0))
        else:
            draw.text((margin, y), line, font=body_font, fill=(0, 0, 0))
        y += line_height
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


EXAMPLES: dict[str, tuple[str, list[str]]] = {
    "sum_even": (
        "Exercise 1: Sum of even numbers",
        [
            "Write a function sum_even(nums) that returns the sum",
            "of the even integers in the list nums.",
            "An empty list sums to 0.",
            "Examples:",
            "    sum_even([1, 2, 3, 4]) -> 6",
            "    sum_even([7, 9]) -> 0",
            "    sum_even([-2, 5, 10]) -> 8",
        ],
    ),
    "reverse_words": (
        "Exercise 2: Reverse the words",
        [
            "Read one line from standard input and print its words",
            "in reverse order, separated by single spaces.",
            "Input:",
            "    the quick brown fox",
            "Output:",
            "    fox brown quick the",
        ],
    ),
    "palindrome": (
        "Exercise 3: Palindrome check",
        [
            "Write is_palindrome(s) returning True when s reads the",
            "same forwards and backwards, ignoring case and every",
            "character that is not a letter or a digit.",
            "Examples:",
            "    is_palindrome('Racecar') -> True",
            "    is_palindrome('A man, a plan, a canal: Panama') -> True",
            "    is_palindrome('hello') -> False",
        ],
    ),
    "leap_year": (
        "Exercise 4: Leap years",
        [
            "Write is_leap(year): a year is a leap year when it is",
            "divisible by 4, except centuries (divisible by 100),",
            "which are leap years only when divisible by 400.",
            "Examples:",
            "    is_leap(2024) -> True",
            "    is_leap(2023) -> False",
            "    is_leap(2000) -> True",
        ],
    ),
    # no example in the statement: nothing executable to judge code by -> "unverified"
    "word_stats": (
        "Exercise 5: Word statistics",
        [
            "Write a function word_stats(text) that summarises a text",
            "in whatever way you find most useful for a writer.",
            "Be creative.",
        ],
    ),
}


def main(out_dir: str = "examples/images") -> None:
    for stem, (title, lines) in EXAMPLES.items():
        print(render_task(title, lines, Path(out_dir) / f"{stem}.png"))


if __name__ == "__main__":
    main(*sys.argv[1:])
