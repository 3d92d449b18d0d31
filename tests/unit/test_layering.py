"""The layout is the architecture: these rules keep it that way.

- ``graph/`` (the state machine) never imports the application (``autorust.cli``, ``runtime``,
  ``storage``, ``reporting``, ...); it may import its nodes, prompts and the sandbox protocol.
- ``nodes/`` never import the application layers that drive the graph (cli, runtime, storage,
  reporting).
- ``sandbox/`` imports nothing of autorust outside ``autorust.sandbox``.
- no import cycles; a module never imports its own package (its parent ``__init__``, which
  may import the module back): siblings are imported directly.
- no import loop between packages (modules collapsed to their top-level subpackage).
- no module named like a standard-library module.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# folder -> import name (autorust/graph is a symlink to graph/, and so on)
PACKAGES = {
    "autorust": "autorust",
    "graph": "autorust.graph",
    "nodes": "autorust.nodes",
    "prompts": "autorust.prompts",
    "sandbox": "autorust.sandbox",
}
APPLICATION = ("autorust.cli", "autorust.runtime", "autorust.storage", "autorust.reporting")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, name in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([name, *parts])] = path
    return found


MODULES = _modules()


def _import_statements(path: Path, *, with_names: bool = False) -> set[str]:
    """The module names written in ``path``'s absolute import statements (``from X import``);
    ``with_names`` adds ``X.name`` for each imported name (which may be a submodule)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if with_names:
                names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _imports(path: Path) -> set[str]:
    """autorust modules imported anywhere in ``path`` (module level or inside functions)."""
    return {name for name in _import_statements(path, with_names=True) if name in MODULES}


IMPORTS = {module: _imports(path) for module, path in MODULES.items()}


def _violations(prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in IMPORTS.items()
        if module == prefix or module.startswith(prefix + ".")
        for target in targets
        if target.startswith(forbidden)
    )


def test_every_folder_is_an_installed_package() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert packages, "no packages found"
    missing = sorted(p for p in packages if f'"{p}"' not in pyproject)
    assert not missing, f"packages not listed in pyproject.toml: {missing}"


def test_every_required_folder_is_a_path_under_autorust() -> None:
    """``autorust.graph`` lives at ``autorust/graph`` on disk (a symlink to ``graph/``), not
    behind an import hook that IDEs and static analysis cannot follow (issue #27 item 1)."""
    import autorust.graph
    import autorust.sandbox.bubblewrap

    for folder in PACKAGES.keys() - {"autorust"}:
        link = ROOT / "autorust" / folder
        assert link.is_symlink() and link.resolve() == (ROOT / folder).resolve(), folder
    assert Path(autorust.graph.__file__) == ROOT / "autorust" / "graph" / "__init__.py"
    assert Path(autorust.sandbox.bubblewrap.__path__[0]) == ROOT / "autorust/sandbox/bubblewrap"
    assert "package-dir" not in (ROOT / "pyproject.toml").read_text()


def test_graph_never_imports_the_application() -> None:
    assert not _violations("autorust.graph", (*APPLICATION, "autorust.llm", "autorust.imaging"))


def test_nodes_never_import_the_layers_that_drive_them() -> None:
    assert not _violations("autorust.nodes", APPLICATION)


def test_sandbox_is_self_contained() -> None:
    outside = tuple(
        name
        for name in ("autorust.graph", "autorust.nodes", "autorust.prompts", *APPLICATION,
                     "autorust.llm", "autorust.imaging", "autorust.redaction")
    )  # fmt: skip
    assert not _violations("autorust.sandbox", outside)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The cycles a depth-first walk of ``edges`` finds (each as a path back to its start)."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_import_cycles() -> None:
    # importing an ancestor package is test_no_module_imports_its_own_package's business
    edges = {
        module: {t for t in targets if t != module and not module.startswith(t + ".")}
        for module, targets in IMPORTS.items()
    }
    cycles = _cycles(edges)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_module_shadows_the_standard_library() -> None:
    shadowing = sorted(
        str(path.relative_to(ROOT))
        for module, path in MODULES.items()
        if module.rsplit(".", 1)[-1] in sys.stdlib_module_names
    )
    assert not shadowing, f"modules named like standard-library modules: {shadowing}"


def test_no_module_imports_its_own_package() -> None:
    # the parent's __init__ may import this module: importing the parent back makes the result
    # depend on which of the two is imported first
    offenders = sorted(
        f"{module} imports {module.rsplit('.', 1)[0]}"
        for module, path in MODULES.items()
        if path.name != "__init__.py" and module.rsplit(".", 1)[0] in _import_statements(path)
    )
    assert not offenders, offenders


# wires the nodes into the graph: the one module of graph/ above nodes/ (the rest of graph/,
# the state and its context, is the vocabulary every layer below it speaks)
COMPOSITION_ROOT = "autorust.graph.workflow"


def _package(module: str) -> str:
    """``autorust.runtime.runner`` -> ``autorust.runtime``; top-level modules stay themselves."""
    return module if module == COMPOSITION_ROOT else ".".join(module.split(".")[:2])


def test_no_import_loop_between_packages() -> None:
    edges: dict[str, set[str]] = {}
    for module, targets in IMPORTS.items():
        for target in targets:
            source, sink = _package(module), _package(target)
            if source != sink and sink != "autorust":
                edges.setdefault(source, set()).add(sink)
    loops = _cycles(edges)
    assert not loops, "package loops: " + "; ".join(" -> ".join(loop) for loop in loops)


BARE_NAMES = {folder for folder, name in PACKAGES.items() if name != folder}
# the code, its tests and benches (not the vendored gallery scripts)
SOURCES = [
    path
    for path in [
        *MODULES.values(),
        *(ROOT / "tests").rglob("*.py"),
        *(ROOT / "bench").rglob("*.py"),
    ]
    if "gallery" not in path.parts
]


def test_no_folder_is_imported_by_its_bare_name() -> None:
    """``graph/`` is ``autorust.graph``: ``import graph.state`` would load a second copy of every
    class in it (a second ``RunState``) and hide the edge from the layering rules."""
    offenders = sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for path in SOURCES
        for name in _import_statements(path)
        if name.split(".")[0] in BARE_NAMES
    )
    assert not offenders, offenders


def test_the_application_never_imports_a_node() -> None:
    """Nodes are reached through the graph; what the application shares with them lives in
    ``graph/`` (state, context) or ``nodes/support``."""
    node_modules = tuple(
        name for name in MODULES if name.startswith("autorust.nodes.") and ".support" not in name
    )
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in IMPORTS.items()
        if module.startswith(APPLICATION)
        for target in targets
        if target.startswith(node_modules)
    )
    assert not offenders, offenders


def test_every_autorust_import_names_a_module_that_exists() -> None:
    """A module moved or renamed leaves no stale import behind (in tests and benches too)."""
    stale = sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for path in SOURCES
        for name in _import_statements(path)
        if name.startswith("autorust.") and name not in MODULES
    )
    assert not stale, stale
