"""The ``autorust`` command line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from graph.checkpoint import open_checkpointer
from graph.config import AutorustConfig
from graph.display import scripted_banner, show_item
from graph.results import write_item
from graph.runner import ItemResult, run_image
from nodes.models import ModelNotConfiguredError, make_chat_model

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()


def find_images(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise typer.BadParameter(f"{path} is neither a file nor a folder")
    images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise typer.BadParameter(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return images


def build_config(
    *,
    scripted: Path | None,
    max_iterations: int | None,
    prompt_versions: list[str],
    executor: str | None,
    unsafe_subprocess: bool,
) -> AutorustConfig:
    overrides: dict = {}
    if scripted is not None:
        overrides |= {"provider": "scripted", "scripted_replies": str(scripted)}
    if max_iterations is not None:
        overrides["max_iterations"] = max_iterations
    if prompt_versions:
        pairs = [item.split("=", 1) for item in prompt_versions]
        if any(len(pair) != 2 for pair in pairs):
            raise typer.BadParameter("--prompt-version takes AGENT=VERSION, e.g. coding=v1")
        overrides["prompt_versions"] = dict(pairs)
    config = AutorustConfig(**overrides)
    executor_settings = config.executor.model_copy()
    if executor:
        executor_settings.kind = executor  # type: ignore[assignment]
    if unsafe_subprocess:
        executor_settings.kind, executor_settings.allow_unsandboxed = "subprocess", True
    return config.model_copy(update={"executor": executor_settings})


def check_models(config: AutorustConfig) -> None:
    for agent in ("vision", "coding", "checker"):
        try:
            make_chat_model(agent, config)
        except ModelNotConfiguredError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None


async def run_all(
    images: list[Path], config: AutorustConfig, checkpoint: str, output_dir: Path, force: bool
) -> list[ItemResult]:
    results: list[ItemResult] = []
    async with open_checkpointer(checkpoint) as saver:
        for image in images:
            try:
                result = await run_image(image, config, saver, force=force)
            except Exception as exc:  # one bad item must not stop the others
                result = ItemResult(
                    image_path=str(image),
                    thread_id=None,
                    status="error",
                    error=f"{type(exc).__name__}: {exc}",
                )
            show_item(console, result)
            folder = write_item(output_dir, result)
            console.print(f"[dim]results: {folder}[/dim]")
            results.append(result)
    return results


def execute(
    path: Path,
    config: AutorustConfig,
    *,
    output_dir: Path | None,
    checkpoint: str | None,
    force: bool,
) -> None:
    check_models(config)
    if config.provider == "scripted":
        console.print(scripted_banner())
    images = find_images(path)
    output_dir = output_dir or Path(config.output_dir)
    results = asyncio.run(
        run_all(images, config, checkpoint or str(config.checkpoint_path), output_dir, force)
    )
    passed = sum(r.status == "passed" for r in results)
    console.rule(f"{passed}/{len(results)} passed · results in {output_dir}")
    if passed != len(results):
        raise typer.Exit(1)


ScriptedOpt = Annotated[
    Path | None,
    typer.Option(help="replay scripted replies from this folder instead of calling a model"),
]
MaxIterOpt = Annotated[int | None, typer.Option("--max-iterations", "-n", help="coding attempts")]
PromptOpt = Annotated[
    list[str], typer.Option("--prompt-version", help="AGENT=VERSION, e.g. coding=v1 (repeatable)")
]
ExecutorOpt = Annotated[
    str | None, typer.Option(help="local (bubblewrap sandbox) | cloud_function | subprocess")
]
UnsafeOpt = Annotated[
    bool,
    typer.Option(help="run generated code WITHOUT the sandbox (no file/network isolation)"),
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="results folder")]
CheckpointOpt = Annotated[
    str | None, typer.Option(help="SQLite file or postgresql:// URL (default .autorust/...)")
]
ForceOpt = Annotated[bool, typer.Option(help="rerun images that already finished")]


@app.command()
def run(
    path: Annotated[Path, typer.Argument(help="an image, or a folder of images")],
    scripted: ScriptedOpt = None,
    max_iterations: MaxIterOpt = None,
    prompt_version: PromptOpt = [],  # noqa: B006 - typer needs a literal default
    executor: ExecutorOpt = None,
    unsafe_subprocess: UnsafeOpt = False,
    out: OutOpt = None,
    checkpoint: CheckpointOpt = None,
    force: ForceOpt = False,
) -> None:
    """Turn task images into verified code."""
    config = build_config(
        scripted=scripted,
        max_iterations=max_iterations,
        prompt_versions=prompt_version,
        executor=executor,
        unsafe_subprocess=unsafe_subprocess,
    )
    execute(path, config, output_dir=out, checkpoint=checkpoint, force=force)


@app.command()
def demo(
    out: OutOpt = None,
    executor: ExecutorOpt = None,
    unsafe_subprocess: UnsafeOpt = False,
    force: ForceOpt = False,
) -> None:
    """Offline demo: the example images with a SCRIPTED model (real sandbox and checkpoints)."""
    config = build_config(
        scripted=EXAMPLES_DIR / "replies",
        max_iterations=None,
        prompt_versions=[],
        executor=executor,
        unsafe_subprocess=unsafe_subprocess,
    )
    execute(EXAMPLES_DIR / "images", config, output_dir=out, checkpoint=None, force=force)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
