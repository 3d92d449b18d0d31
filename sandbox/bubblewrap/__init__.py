"""The default backend: generated code runs under bubblewrap, from a warm pool."""

from autorust.sandbox.bubblewrap.command import find_bwrap
from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor

__all__ = ["BubblewrapExecutor", "find_bwrap"]
