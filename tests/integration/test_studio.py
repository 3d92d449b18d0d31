"""The graph as LangGraph Studio / `langgraph dev` serves it, driven through its REST API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.langgraph_server import langgraph_dev

pytestmark = pytest.mark.langgraph_dev

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with langgraph_dev(tmp_path_factory.mktemp("langgraph") / "server.log") as url:
        yield url


def test_context_schema_is_visible_to_studio(server: str) -> None:
    assistants = httpx.post(f"{server}/assistants/search", json={}, timeout=10).json()
    assistant = next(a for a in assistants if a["graph_id"] == "autorust")
    schemas = httpx.get(
        f"{server}/assistants/{assistant['assistant_id']}/schemas", timeout=10
    ).json()
    fields = set(schemas["context_schema"]["properties"])
    assert {"provider", "vision", "coding", "checker", "max_iterations", "executor",
            "prompt_versions"} <= fields  # fmt: skip
    # the input form offers the image and at most two optional fields, not the whole state
    inputs = schemas["input_schema"]
    assert inputs.get("required") == ["image_path"]
    assert "image_path" in inputs["properties"] and len(inputs["properties"]) <= 3


def test_run_to_completion_over_rest(server: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=server, timeout=60) as client:
        thread = client.post("/threads", json={}).json()["thread_id"]
        values = client.post(
            f"/threads/{thread}/runs/wait",
            json={
                "assistant_id": "autorust",
                "input": {"image_path": str(ROOT / "examples" / "images" / "palindrome.png")},
                "context": {
                    "provider": "scripted",
                    "scripted_replies": str(ROOT / "examples" / "replies"),
                    "home": str(tmp_path / ".autorust"),
                },
            },
        ).json()
        assert values["status"] == "passed", values
        assert values["spec"]["function_name"] == "is_palindrome"
        assert len(values["attempts"]) == 2 and values["verdict"]["passed"] is True
        history = client.post(f"/threads/{thread}/history", json={"limit": 50}).json()
        assert len(history) >= 10  # a checkpoint per node step, kept by the server
        assert history[0]["values"]["status"] == "passed"
