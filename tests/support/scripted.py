"""Build a one-image scripted task: an example image under a new name plus its replies."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from autorust.graph.context import AutorustConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def scripted_task(
    tmp_path: Path, stem: str, replies: dict[str, Any], *, image: str = "sum_even", **settings: Any
) -> tuple[Path, AutorustConfig]:
    """``tmp_path/images/<stem>.png`` (a copy of an example image) and a scripted config whose
    replies for it are ``replies`` (keys: vision, coding, checker, vision_confirm)."""
    images, folder = tmp_path / "images", tmp_path / "replies"
    images.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    target = images / f"{stem}.png"
    shutil.copy(EXAMPLES / "images" / f"{image}.png", target)
    (folder / f"{stem}.yaml").write_text(yaml.safe_dump(replies, sort_keys=False))
    config = AutorustConfig(
        provider="scripted",
        scripted_replies=str(folder),
        home=str(tmp_path / ".autorust"),
        output_dir=str(tmp_path / "out"),
        ocr="off",
        **settings,
    )
    return target, config
