"""coding agent: Spec + earlier attempts + feedback -> CodeArtifact."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from autorust.graph.context import AutorustConfig
from autorust.graph.state import AgentName, Attempt, CodeArtifact, RunState
from autorust.nodes.support.shared import (
    ModelCallError,
    agent_tools,
    app_config,
    ask_model,
    spec_json,
)

AGENT = AgentName.CODING
MAX_HISTORY_CHARS = 12_000
WHOLE_ATTEMPTS = 2  # the newest attempts shown whole (code and feedback); older ones summarised
SUMMARY_CHARS = 300  # of each older attempt's feedback


def history_section(state: RunState, layout: dict[str, str] | None = None) -> str:
    """Earlier attempts, newest last, with the checker's feedback on each (prompt versions
    with ``history: attempts`` keep them at attempt boundaries, see ``attempt_history``)."""
    if not state.attempts and not state.feedback:
        return "This is the first attempt."
    if (layout or {}).get("history") == "attempts":
        return attempt_history(state)
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


def _whole(attempt: Attempt) -> str:
    return (
        f"Attempt {attempt.iteration + 1} (failed):\n```python\n{attempt.code.source}\n```\n"
        f"Checker feedback:\n{attempt.verdict.feedback}"
    )


def _summary(attempt: Attempt) -> str:
    feedback = " ".join(attempt.verdict.feedback.split())
    if len(feedback) > SUMMARY_CHARS:
        feedback = feedback[:SUMMARY_CHARS] + " ..."
    notes = " ".join(attempt.code.notes.split())[:SUMMARY_CHARS]
    return (
        f"Attempt {attempt.iteration + 1} (failed; code not shown): "
        f"{attempt.verdict.evidence or 'no evidence'}"
        + (f"; its notes: {notes}" if notes else "")
        + (f"; feedback: {feedback}" if feedback else "")
    )


def attempt_history(state: RunState) -> str:
    """Every attempt at its boundary: the newest ``WHOLE_ATTEMPTS`` whole (code and feedback)
    while they fit in ``MAX_HISTORY_CHARS``, the newest one always, older ones as one line each
    (what the evidence was and what the feedback said). Nothing is cut inside code."""
    attempts = list(state.attempts)
    whole: list[Attempt] = []
    used = 0
    for attempt in reversed(attempts[-WHOLE_ATTEMPTS:]):
        size = len(_whole(attempt))
        if whole and used + size > MAX_HISTORY_CHARS:
            break
        whole.insert(0, attempt)
        used += size
    older = attempts[: len(attempts) - len(whole)]
    parts = [_summary(a) for a in older] + [_whole(a) for a in whole]
    if state.feedback:
        parts.append(f"Additional feedback from the user:\n{state.feedback}")
    return "\n\n".join(parts) + "\n\nWrite the corrected, complete program."


async def coding_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    assert state.spec is not None, "coding runs after vision"
    config = app_config(runtime)
    tools = await agent_tools(AGENT, config)
    prompt, version = tools.prompt, tools.prompt_version
    messages = prompt.format_messages(
        spec_json=spec_json(state.spec, tools.layout),
        history_section=history_section(state, tools.layout),
    )
    try:
        code, call = await ask_model(AGENT, tools, messages, CodeArtifact, state, config)
    except ModelCallError as exc:
        return exc.state_update()
    return {"code": code, "prompt_versions": {AGENT: version}, "model_calls": [call]}
