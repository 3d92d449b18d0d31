"""The Cloud Function's fallback when bubblewrap cannot run: an unprivileged uid per job."""

from autorust.sandbox.unprivileged_uid.executor import UidExecutor

__all__ = ["UidExecutor"]
