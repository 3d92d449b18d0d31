"""The default backend: generated code runs under bubblewrap."""

from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor, find_bwrap

__all__ = ["BubblewrapExecutor", "find_bwrap"]
