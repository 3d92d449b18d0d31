"""The weak mode: a plain child process (explicit opt-out)."""

from autorust.sandbox.plain_subprocess.executor import SubprocessExecutor

__all__ = ["SubprocessExecutor"]
