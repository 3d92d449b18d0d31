"""The state machine as a PNG, drawn offline with matplotlib (no Mermaid web service, no
graphviz, no browser): nodes in layers by their distance from the start, conditional edges
dashed, edges back to an earlier layer curved."""

from __future__ import annotations

import io
from collections import deque
from typing import Any


def _layers(nodes: list[str], edges: list[Any]) -> dict[str, int]:
    start = "__start__" if "__start__" in nodes else nodes[0]
    depth = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for edge in edges:
            if edge.source == node and edge.target not in depth:
                depth[edge.target] = depth[node] + 1
                queue.append(edge.target)
    last = max(depth.values(), default=0)
    for node in nodes:  # unreachable nodes go last; the end always last
        depth.setdefault(node, last + 1)
    if "__end__" in depth:
        depth["__end__"] = max(depth.values()) + (0 if depth["__end__"] > last else 1)
    return depth


def graph_png(drawable: Any, *, dpi: int = 100) -> bytes:
    """PNG bytes of a LangGraph drawable graph (``compiled.get_graph()``)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    nodes = list(drawable.nodes)
    edges = list(drawable.edges)
    depth = _layers(nodes, edges)
    rows: dict[int, list[str]] = {}
    for node in nodes:
        rows.setdefault(depth[node], []).append(node)
    where: dict[str, tuple[float, float]] = {}
    for level, members in rows.items():
        for index, node in enumerate(members):
            where[node] = (index - (len(members) - 1) / 2, -level)
    width = max(len(m) for m in rows.values())
    fig, ax = plt.subplots(figsize=(2.6 * width + 2, 1.1 * len(rows) + 1), dpi=dpi)
    for edge in edges:
        (x0, y0), (x1, y1) = where[edge.source], where[edge.target]
        back = y1 >= y0
        arrow = FancyArrowPatch(
            (x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=14, shrinkA=16, shrinkB=16,
            linestyle="--" if edge.conditional else "-", color="#555",
            connectionstyle=f"arc3,rad={0.5 if back else 0.0}",
        )  # fmt: skip
        ax.add_patch(arrow)
    for node, (x, y) in where.items():
        label = {"__start__": "start", "__end__": "end"}.get(node, node)
        terminal = node in ("__start__", "__end__")
        ax.text(x, y, label, ha="center", va="center", fontsize=11,
                bbox={"boxstyle": "circle" if terminal else "round,pad=0.4",
                      "fc": "#e8eef7" if terminal else "#fff4d6", "ec": "#333"})  # fmt: skip
    ax.set_xlim(-width / 2 - 0.5, width / 2 + 0.5)
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
