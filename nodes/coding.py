"""coding agent: Spec + earlier attempts + feedback -> CodeArtifact."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from autorust.graph.context import AutorustConfig
from autorust.graph.state import AgentName, CodeArtifact, RunState
from autorust.nodes.shared import ModelCallError, agent_tools, ask_model, run_config

AGENT = AgentName.CODING
MAX_HISTORY_CHARS = 12_000


def history_section(state: RunState) -> str:
    """Earlier attempts, newest last, with the checker's feedback on each."""
    if not state.attempts and not state.feedback:
        return "This is the first attempt."
    parts: list[str] = []
    for attempt in state.attempts:
        parts.append(
            f"Attempt {attempt.iteration + 1} (failed):\n```python\n{attempt.code.source}\n```\n"
            f"Checker feedback:\n{attempt.verdict.feedback}"
        )
    if state.feedback:
        parts.append(f"Additional feedback from the user:\n{state.feedback}")
    text = "\n\n".join(parts)
    return text[-MAX_HISTORY_CHARS:] + "\n\nWrite the corrected, complete program."


async def coding_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    assert state.spec is not None, "coding runs after vision"
    config = run_config(runtime)
    tools = await agent_tools(AGENT, config)
    prompt, version = tools.prompt, tools.prompt_version
    messages = prompt.format_messages(
        spec_json=state.spec.model_dump_json(indent=2, exclude={"ocr_text"}),
        history_section=history_section(state),
    )
    try:
        code, call = await ask_model(AGENT, tools, messages, CodeArtifact, state, config)
    except ModelCallError as exc:
        return exc.state_update()
    return {"code": code, "prompt_versions": {AGENT: version}, "model_calls": [call]}
