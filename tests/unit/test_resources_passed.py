"""Per-batch things are passed, not ambient (issue #27): the batch's reply journal, spending
caps, stop switch and ``--batch-api`` collector (``BatchResources``) travel with each run's
config, never in a module-level ``ContextVar``. The few context variables left are named here,
each with the reason it is the right tool, and each says so in a comment above it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("autorust", "graph", "nodes", "prompts", "sandbox", "cloud_function")

# module file -> variable -> why a ContextVar is right there
ALLOWED = {
    "autorust/reporting/logs.py": {
        "RUN_ID": "a logging.Filter has no other path to the command's run id",
    },
    "autorust/llm/http_trace.py": {
        "_CURRENT": "per call, read by an httpx hook below the SDK that no argument reaches",
    },
}


def _sources() -> list[Path]:
    found: set[Path] = set()
    for folder in FOLDERS:
        base = ROOT / folder
        if base.is_dir():
            found |= {path for path in base.rglob("*.py") if ".venv" not in path.parts}
    return sorted(found)


def _context_vars(path: Path) -> list[tuple[str, int]]:
    """(assigned name, line) of each ``ContextVar(...)`` call in ``path``."""
    found: list[tuple[str, int]] = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign | ast.AnnAssign):
            continue
        value = node.value
        if not isinstance(value, ast.Call):
            continue
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name != "ContextVar":
            continue
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        found.append((getattr(target, "id", ast.unparse(target)), node.lineno))
    return found


def _relative(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    if parts[0] != "autorust" and parts[0] in FOLDERS:  # the symlinked folders
        parts = ("autorust", *parts)
    return "/".join(parts)


def test_no_context_var_outside_the_allow_list() -> None:
    found = {(_relative(path), name) for path in _sources() for name, _ in _context_vars(path)}
    allowed = {(module, name) for module, names in ALLOWED.items() for name in names}
    assert found <= allowed, sorted(found - allowed)
    assert allowed <= found, f"stale allow-list entries: {sorted(allowed - found)}"


def test_each_remaining_context_var_says_why() -> None:
    for module, names in ALLOWED.items():
        path = ROOT / module
        lines = path.read_text(encoding="utf-8").splitlines()
        for name, line in _context_vars(path):
            if name not in names:
                continue
            above = "\n".join(lines[max(0, line - 4) : line - 1])
            assert "ContextVar because" in above, (
                f"{module}:{line} {name}: say in a comment above it why a ContextVar is right"
            )


def test_the_reply_journal_is_no_global_langchain_cache() -> None:
    """The journal is each model's own cache, given per call (``RunResources.with_journal``)."""
    offenders = [
        _relative(path)
        for path in _sources()
        if "set_llm_cache" in path.read_text(encoding="utf-8")
    ]
    assert not offenders, offenders


def test_the_checkpointer_factory_opens_only_checkpointers() -> None:
    """The journal and the run holders are opened with the batch's resources, on the saver
    (it still creates their tables: schema setup is the store's)."""
    text = (ROOT / "autorust/storage/checkpoints.py").read_text(encoding="utf-8")
    for other in ("storage.journal", "pg_holders", "ReplyJournal", "PostgresReplies",
                  "SqliteReplies", "sqlite_replies", "PgHolders"):  # fmt: skip
        assert other not in text, other
