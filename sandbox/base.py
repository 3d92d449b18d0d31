"""The contract every execution backend fulfils: a `Job` goes in, a `JobResult` comes out.

Backends (local bubblewrap sandbox, plain subprocess, Google Cloud Function) differ only in
*where* and *how safely* the job runs; the interpreter node never needs to know which one it has.
"""

from __future__ import annotations

import os
import re
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Limits(BaseModel):
    """Resource caps applied to every job."""

    timeout_s: float = Field(10.0, gt=0, le=600, description="Wall-clock limit for the whole job")
    memory_mb: int = Field(
        512,
        ge=16,
        description="Address-space cap per process; with a cgroup (docs/sandbox.md) also the "
        "cap of everything the sandbox holds together, with disk_mb and 48 MB on top",
    )
    cpu_s: int = Field(30, ge=1, description="CPU-time cap per process")
    file_size_mb: int = Field(64, ge=1, description="Largest file the code may write")
    disk_mb: int = Field(
        64,
        ge=1,
        le=4096,
        description="Total space of the job's writable work dir; /tmp gets the same again and "
        "/dev/shm a sixteenth (each a size-limited tmpfs, so writes past it fail with ENOSPC)",
    )
    open_files: int = Field(256, ge=16, description="Open file descriptors per process")
    processes: int = Field(64, ge=1, description="Process/thread cap for the sandboxed uid")
    max_output_bytes: int = Field(
        256_000, ge=1024, description="stdout and stderr are each read up to this many bytes"
    )


class Job(BaseModel):
    """Files to place in a fresh work dir and a command to run there.

    ``argv[0] == "python"`` means "the sandbox's Python interpreter"; backends resolve it.
    """

    files: dict[str, str] = Field(default_factory=dict, description="relative path -> text")
    argv: list[str] = Field(default_factory=lambda: ["python", "main.py"])
    stdin: str = ""
    limits: Limits = Field(default_factory=Limits)
    collect: list[str] = Field(
        default_factory=list, description="glob patterns of files to return from the work dir"
    )
    max_collect_bytes: int = Field(8_000_000, description="total size cap of collected files")
    max_collect_files: int = Field(
        16, ge=0, le=1000, description="at most this many files are collected (first matches)"
    )
    max_collect_file_bytes: int = Field(
        8_000_000, ge=0, description="size cap of each collected file"
    )
    preload: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="modules the sandbox's waiting interpreter imports before the job is "
        "delivered (e.g. numpy, matplotlib.pyplot for figure jobs): a job run in that "
        "interpreter finds them loaded. Still one job per sandbox; a backend without warm "
        "interpreters ignores it",
    )

    @field_validator("preload")
    @classmethod
    def _module_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not MODULE_NAME.fullmatch(name):
                raise ValueError(f"not a module name: {name[:80]!r}")
        return names


class JobResult(BaseModel):
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    timed_out: bool = False
    truncated: bool = False
    files: dict[str, bytes] = Field(default_factory=dict, description="collected files")
    backend: str = ""
    warnings: list[str] = Field(default_factory=list)
    sandbox_error: str | None = Field(
        None,
        description="the sandbox itself could not run the job (never set because of what the "
        "job's code did): an infrastructure error, not failing code",
    )
    limits_hit: list[str] = Field(
        default_factory=list,
        description='limits the job ran into, for the coder: "timed out after 10.0 s", '
        '"disk quota exceeded (64 MB)", "output truncated at 256000 bytes", ...',
    )


class ExecutorSettings(BaseModel):
    """Which backend runs generated code, and how. Chosen by configuration, never in node code."""

    kind: Literal["local", "subprocess", "cloud_function"] = Field(
        "local",
        description="'local': bubblewrap sandbox (default); 'subprocess': weaker, no isolation "
        "of files/network (needs allow_unsandboxed); 'cloud_function': remote HTTPS function",
    )
    allow_unsandboxed: bool = Field(
        False, description="explicit opt-out: permit the weak 'subprocess' mode (logged loudly)"
    )
    cloud_function_url: str | None = Field(
        None, description="the Cloud Function's https:// URL (kind 'cloud_function')"
    )
    warm_pool_size: int = Field(
        2,
        ge=0,
        le=64,
        description="sandboxes kept started ahead of demand (set it to the interpreter agent's "
        "slots); each runs exactly one job and is discarded; 0 starts one per job",
    )
    limits: Limits = Field(default_factory=Limits, description="resource caps applied to every job")


MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,4}")


def resolve_interpreter(path: str) -> str:
    """``path`` with its folders resolved (``..``, ``.``, symlinked dirs: ``os.path.realpath``)
    but its last component kept: a venv's ``bin/python`` is a symlink to the base interpreter,
    and following it would lose the venv's site-packages. The sandbox binds the resolved
    folders, and the interpreter inside reports this same path as ``sys.executable``."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(folder), name)


class SandboxUnavailableError(RuntimeError):
    """The requested backend cannot run here; the message says how to fix it."""


@runtime_checkable
class Executor(Protocol):
    """Lifecycle: ``check()`` once at start (raises `SandboxUnavailableError` with the fix),
    ``execute()`` per job, ``aclose()`` at the end (stops warm sandboxes, removes their dirs)."""

    name: str

    async def check(self) -> None: ...

    async def execute(self, job: Job) -> JobResult: ...

    async def aclose(self) -> None: ...
