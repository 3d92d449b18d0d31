"""The routing table, pinned: where each node may send the run next."""

from __future__ import annotations

from typing import get_args, get_type_hints

from autorust.graph import routing
from autorust.graph.workflow import graph

END = "__end__"
ROUTES: dict[str, set[str]] = {
    "vision": {"coding", END},
    "coding": {"approve_execution", END},
    "approve_execution": {"coding", "interpreter", END},
    "interpreter": {"checker", END},
    "checker": {"probe", "confirm", "judge", END},
    "probe": {"confirm", "judge", END},
    "confirm": {"judge", END},
    "judge": {"interpreter", "coding", "final_review", END},
    "final_review": {"coding", END},
}


def _router_targets() -> dict[str, set[str]]:
    routers = {
        name: getattr(routing, name) for name in dir(routing) if name.startswith("route_after_")
    }
    return {name: set(get_args(get_type_hints(fn)["return"])) for name, fn in routers.items()}


def test_every_router_states_its_targets_as_a_literal() -> None:
    targets = _router_targets()
    assert len(targets) == len(ROUTES)
    assert all(targets.values()), [name for name, found in targets.items() if not found]


def test_the_compiled_graph_has_exactly_the_routing_table() -> None:
    drawn = graph.get_graph()
    found: dict[str, set[str]] = {}
    for edge in drawn.edges:
        if edge.source != "__start__":
            found.setdefault(edge.source, set()).add(edge.target)
    assert found == ROUTES
    assert [(e.source, e.target) for e in drawn.edges if e.source == "__start__"] == [
        ("__start__", "vision")
    ]
