"""Pick the execution backend from configuration."""

from __future__ import annotations

from functools import cache

from autorust.sandbox.base import Executor, ExecutorSettings, SandboxUnavailableError

UNSAFE_HINT = (
    "set executor.allow_unsandboxed=true (CLI: --unsafe-subprocess; env: "
    "AUTORUST_EXECUTOR__KIND=subprocess AUTORUST_EXECUTOR__ALLOW_UNSANDBOXED=true)"
)


def make_executor(settings: ExecutorSettings) -> Executor:
    """One executor per distinct settings (cached: a warm pool is shared by every caller)."""
    return _make(settings.model_dump_json())


def cached_executor(settings: ExecutorSettings) -> Executor | None:
    """The executor for ``settings`` if one was made already (no probe, no blocking work)."""
    key = settings.model_dump_json()
    return _make(key) if key in _MADE else None


async def close_executor(executor: Executor) -> None:
    """Stop ``executor`` (its warm pool, its processes) and forget every cached executor, so a
    later batch in the same process gets fresh ones instead of a closed pool."""
    try:
        await executor.aclose()
    finally:
        _make.cache_clear()
        _MADE.clear()


_MADE: set[str] = set()


@cache
def _make(settings_json: str) -> Executor:
    executor = _build(ExecutorSettings.model_validate_json(settings_json))
    _MADE.add(settings_json)
    return executor


def _build(settings: ExecutorSettings) -> Executor:
    if settings.kind == "subprocess":
        if not settings.allow_unsandboxed:
            raise SandboxUnavailableError(
                "executor 'subprocess' runs generated code without isolation; to allow it, "
                + UNSAFE_HINT
            )
        from autorust.sandbox.plain_subprocess.executor import SubprocessExecutor

        return SubprocessExecutor()
    if settings.kind == "cloud_function":
        from autorust.sandbox.cloud_function.client import CloudFunctionExecutor

        if not settings.cloud_function_url:
            raise SandboxUnavailableError(
                "executor 'cloud_function' needs cloud_function_url "
                "(env: AUTORUST_EXECUTOR__CLOUD_FUNCTION_URL=https://...)"
            )
        return CloudFunctionExecutor(settings.cloud_function_url)
    from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor

    return BubblewrapExecutor(warm_pool_size=settings.warm_pool_size, limits=settings.limits)
