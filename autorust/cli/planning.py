"""``autorust run`` / ``autorust demo``, step one: every offline check, in the order a user
would fix them, turning what the command line asked for (``RunRequest``) into a ``BatchPlan``
or the first problem as one ``ConfigError``.

Offline: flags that contradict each other, option values, the configuration, the executor
settings, the input files, the output folders, the model settings and keys, the price table.
What connects somewhere or starts a process is in ``probes.py``; running a plan, in
``running.py``. Imported only when a batch runs (``autorust --help`` never loads it).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autorust.cli.config_checks import (
    check_key,
    check_positive,
    check_writable_dir,
    load_config,
    parse_concurrency,
    parse_pairs,
    scripted_overrides,
    with_warm_pool,
)
from autorust.cli.errors import ConfigError
from autorust.cli.options import OutputMode
from autorust.graph.context import AutorustConfig
from autorust.outcomes import NotProcessed
from autorust.runtime.inputs import content_hash, scan_folder

NO_VISION_MODEL = "[yellow]no vision model: specs are built from OCR text[/yellow]"


class WorkerOptions(BaseModel):
    worker_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    lease_s: float = 60.0
    shard: tuple[int, int] | None = None


class RunRequest(BaseModel):
    """What the command line asked for, before any checking."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: Path
    scripted: Path | None = None
    max_iterations: int | None = None
    prompt_versions: list[str] = Field(default_factory=list)
    executor: str | None = None
    unsafe_subprocess: bool = False
    out: Path | None = None
    checkpoint: str | None = None
    force: bool = False
    concurrency: list[str] = Field(default_factory=list)
    adaptive: bool = False
    budget: int | None = None
    max_in_flight: int = 32
    max_cost: float | None = None
    max_item_cost: float | None = None
    max_item_tokens: int | None = None
    batch_api: bool = False  # autorust/runtime/batch_api_session.py
    output: OutputMode = OutputMode.rich
    details: bool | None = None
    shard: str | None = None
    worker_id: str | None = None
    lease_seconds: float = 60.0
    server: str | None = None
    expected_statuses: dict[str, str] | None = Field(
        None,
        description="image stem -> status: success when every image ended as expected (the "
        "demo); otherwise success means every image passed",
    )


class BatchPlan(BaseModel):
    """A request that passed every offline check: nothing below can be a configuration error
    (the probes may still find a server down or a sandbox that does not start)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    config: AutorustConfig
    images: list[Path]
    not_processed: list[NotProcessed]
    output_dir: Path
    checkpoint: str
    options: Any  # BatchOptions (imported lazily)
    worker: WorkerOptions
    mode: OutputMode
    details: bool
    server: str | None
    model_agents: list[str] = Field(
        default_factory=list, description="the agents with a model (their endpoints are probed)"
    )
    notes: list[str] = Field(
        default_factory=list, description="what the user should know before it runs (markup)"
    )
    prices: Any = Field(None, description="the price table (at batch rates with --batch-api)")
    force: bool = False
    expected_statuses: dict[str, str] | None = None
    drained: list[str] = Field(
        default_factory=list, description="images a drain stopped (filled while the batch runs)"
    )
    batch_api: Any = Field(None, description="a --batch-api session's collector (or None)")


def _overrides(request: RunRequest) -> dict[str, Any]:
    overrides = scripted_overrides(request.scripted)
    if request.max_iterations is not None:
        overrides["max_iterations"] = request.max_iterations
    if request.prompt_versions:
        overrides["prompt_versions"] = parse_pairs(request.prompt_versions, "--prompt-version")
    for flag, name in (("--max-cost", "max_cost"), ("--max-item-cost", "max_item_cost"),
                       ("--max-item-tokens", "max_item_tokens")):  # fmt: skip
        value = getattr(request, name)
        if value is not None:
            if value <= 0:
                raise ConfigError(flag, f"must be a positive number, got {value}")
            overrides[name] = value
    return overrides


def _executor_settings(request: RunRequest, config: AutorustConfig, slots: int) -> AutorustConfig:
    from autorust.sandbox.base import ExecutorSettings

    changes: dict[str, object] = {}
    if request.executor:
        changes["kind"] = request.executor
    if request.unsafe_subprocess:
        changes |= {"kind": "subprocess", "allow_unsandboxed": True}
    try:
        settings = ExecutorSettings.model_validate(config.executor.model_dump() | changes)
    except ValidationError:
        raise ConfigError(
            "--executor", f"must be local, cloud_function or subprocess (got {request.executor!r})"
        ) from None
    return config.model_copy(update={"executor": with_warm_pool(settings, slots)})


def _inputs(path: Path) -> tuple[list[Path], list[NotProcessed]]:
    if path.is_dir():
        folder = scan_folder(path)
        images, skipped = [Path(p) for p in folder.to_process], folder.not_processed
        if not images:
            reasons = f" ({len(skipped)} not processed: see below)" if skipped else ""
            raise ConfigError(str(path), f"holds no files to process{reasons}")
        return images, skipped
    if path.is_file():
        return [path], []
    if path.is_symlink():
        raise ConfigError(str(path), "a dangling symlink (its target does not exist)")
    raise ConfigError(str(path), "no such file or folder")


def _in_shard(image: Path, shard: tuple[int, int]) -> bool:
    from autorust.storage.claims import in_shard

    try:
        digest = content_hash(image)
    except (OSError, ValueError):
        digest = "0" * 64  # unreadable: shard 0 reports its error
    return in_shard(digest, shard)


def check_models(config: AutorustConfig) -> list[str]:
    """OCR when it is required, then each agent's model settings and key (nothing is called);
    the agents that have a model (vision may have none when OCR text stands in for it)."""
    from autorust.imaging.ocr import OcrUnavailableError, ocr_available, require_ocr
    from autorust.llm.models import ModelNotConfiguredError, make_chat_model

    if config.ocr == "on":
        try:
            require_ocr()
        except OcrUnavailableError as exc:
            raise ConfigError("AUTORUST_OCR", str(exc)) from None
    agents = []
    for agent in ("vision", "coding", "checker"):
        check_key(agent, config)
        try:
            make_chat_model(agent, config)
            agents.append(agent)
        except ModelNotConfiguredError as exc:
            if agent == "vision" and config.ocr != "off" and ocr_available():
                continue
            raise ConfigError(f"{agent} model", str(exc)) from None
    return agents


def _check_server_flags(request: RunRequest) -> None:
    local_only = {
        "--concurrency": request.concurrency, "--adaptive": request.adaptive,
        "--budget": request.budget is not None, "--checkpoint": request.checkpoint,
        "--shard": request.shard, "--worker-id": request.worker_id,
    }  # fmt: skip
    if given := [name for name, value in local_only.items() if value]:
        raise ConfigError(
            "--server",
            "the LangGraph server schedules and checkpoints its own runs: "
            f"{', '.join(given)} cannot apply there (remove them, or run locally)",
        )


def plan_batch(request: RunRequest) -> BatchPlan:
    """Every check that needs no network, database or sandbox, in the order a user would fix
    them; the first problem is raised as a ``ConfigError``."""
    from autorust.reporting.usage import load_prices
    from autorust.runtime.batch import BatchOptions
    from autorust.runtime.scheduler import DEFAULT_LIMITS
    from autorust.storage.claims import parse_shard

    # 1. the flags, against each other and one by one
    if request.server:
        _check_server_flags(request)
    slots = parse_concurrency(request.concurrency)
    check_positive("--budget", request.budget)
    if request.budget is not None and not request.adaptive:
        raise ConfigError("--budget", "only used with --adaptive (the shared slot budget)")
    check_positive("--max-in-flight", request.max_in_flight)
    check_positive("--lease-seconds", request.lease_seconds, whole=False)
    try:
        shard = parse_shard(request.shard) if request.shard else None
    except ValueError as exc:
        raise ConfigError("--shard", str(exc).removeprefix("--shard ")) from None
    # 2. the configuration (options over AUTORUST_* over autorust.toml), executor settings
    config = load_config(**_overrides(request))
    interpreter_slots = slots.get("interpreter", DEFAULT_LIMITS["interpreter"])  # type: ignore[index]
    config = _executor_settings(request, config, interpreter_slots)
    # 3. the inputs and the folders written to
    images, not_processed = _inputs(request.path)
    if shard is not None:
        images = [image for image in images if _in_shard(image, shard)]
    output_dir = request.out or Path(config.output_dir)
    check_writable_dir("--out" if request.out else "AUTORUST_OUTPUT_DIR", output_dir)
    if not request.server:
        check_writable_dir("AUTORUST_HOME", Path(config.home))
    # 4. the models (settings and keys, nothing called) and the price table
    agents = check_models(config)
    try:
        prices = load_prices(config.price_table, batch=request.batch_api)
    except (OSError, ValueError) as exc:
        raise ConfigError("AUTORUST_PRICE_TABLE", f"unusable price table ({exc})") from None
    worker = WorkerOptions(lease_s=request.lease_seconds, shard=shard)
    if request.worker_id:
        worker.worker_id = request.worker_id
    return BatchPlan(
        config=config,
        images=images,
        not_processed=not_processed,
        output_dir=output_dir,
        checkpoint=request.checkpoint or str(config.checkpoint_path),
        options=BatchOptions(
            concurrency=slots,
            adaptive=request.adaptive,
            budget=request.budget,
            max_in_flight=request.max_in_flight,
            force=request.force,
        ),
        worker=worker,
        mode=request.output,
        details=len(images) <= 5 if request.details is None else request.details,
        server=request.server,
        model_agents=agents,
        # said only once the other agents have a model
        notes=[] if "vision" in agents else [NO_VISION_MODEL],
        prices=prices,
        force=request.force,
        expected_statuses=request.expected_statuses,
    )
