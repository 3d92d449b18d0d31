"""matplotlib's font list, built once per host and interpreter, mounted read-only in every
sandbox: without it each figure job rebuilds it in its fresh config dir (+1-2 s per job)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
from pathlib import Path

from autorust.sandbox.base import Job, Limits

BUILD_SCRIPT = """
import os
os.environ["MPLCONFIGDIR"] = os.path.join(os.getcwd(), "mpl")
import matplotlib.font_manager
print(sorted(os.listdir("mpl")))
"""
MAX_FONTLIST_BYTES = 8_000_000


def cache_root() -> Path:
    if os.geteuid() == 0:
        return Path("/var/cache/autorust/matplotlib")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autorust" / "matplotlib"


def cache_dir(python: str = sys.executable) -> Path | None:
    """Where this interpreter's font list lives; None when matplotlib is not installed."""
    try:
        version = importlib.metadata.version("matplotlib")
    except importlib.metadata.PackageNotFoundError:
        return None
    fonts = []
    for folder in ("/usr/share/fonts", "/usr/local/share/fonts", "/etc/fonts"):
        try:
            fonts.append(f"{folder}:{os.stat(folder).st_mtime_ns}")
        except OSError:
            fonts.append(f"{folder}:-")
    key = hashlib.sha256(json.dumps([python, version, fonts]).encode()).hexdigest()[:16]
    return cache_root() / key


def visible_matplotlib(roots: list[Path]) -> bool:
    """matplotlib is installed where the sandbox can see it (the interpreter's own folders)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.origin:
        return False
    origin = Path(spec.origin).resolve()
    return cache_dir() is not None and any(root in origin.parents for root in roots)


def cached_fontlist(python: str = sys.executable) -> Path | None:
    folder = cache_dir(python)
    if folder is None or not folder.is_dir():
        return None
    found = sorted(folder.glob("fontlist-v*.json"))
    return found[-1] if found else None


def build_job() -> Job:
    return Job(
        files={"build_fontlist.py": BUILD_SCRIPT},
        argv=["python", "build_fontlist.py"],
        collect=["mpl/fontlist-v*.json"],
        limits=Limits(timeout_s=120, cpu_s=120, memory_mb=2048),
        max_collect_bytes=MAX_FONTLIST_BYTES,
    )


def store(files: dict[str, bytes], python: str = sys.executable) -> Path | None:
    """Keep the built font list (validated as JSON); returns its path."""
    folder = cache_dir(python)
    if folder is None:
        return None
    for name, content in files.items():
        json.loads(content)  # a broken file must never be mounted into every sandbox
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / Path(name).name
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(content)
        partial.chmod(0o644)
        os.replace(partial, target)
        return target
    return None
