"""Confirmation (vision agent): the image decides what a test should expect.

Called when the code failed a reviewer counterexample, or the checker disputed a spec test.
One vision call, recorded like any other, rules on all of them: confirmed counterexamples join
the spec as ``reviewer`` tests; rejected ones are recorded and dropped; disputed spec tests
are kept, corrected or dropped, with the reason kept in state.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from autorust.graph.context import AutorustConfig
from autorust.graph.state import (
    AgentName,
    Confirmation,
    CounterexampleRecord,
    DisputeRecord,
    DisputeRuling,
    RunState,
    Spec,
    TestCase,
)
from autorust.imaging.images import ImageInputError, load_image
from autorust.nodes.evidence import evidence_problems
from autorust.nodes.shared import ModelCallError, agent_tools, ask_model, run_config

AGENT = AgentName.VISION
PROMPT = "vision_confirm"


def _counterexample_lines(records: list[CounterexampleRecord]) -> str:
    lines = [
        f"- {r.test.name}: {r.test.call or repr(r.test.stdin)} -> expected "
        f"{r.test.expected if r.test.call else repr(r.test.expected_stdout)}; the program gave "
        f"{r.actual}. Reviewer's rationale: {r.test.rationale or '(none)'}"
        for r in records
    ]
    return "\n".join(lines) or "none"


def _dispute_lines(state: RunState) -> str:
    assert state.spec and state.pending_review
    tests = {t.name: t for t in state.spec.tests}
    lines = []
    for suspect in state.pending_review.disputes:
        test = tests.get(suspect.name)
        if test is not None:
            shown = (
                f"{test.call} -> {test.expected}"
                if test.call
                else (f"stdin {test.stdin!r} -> {test.expected_stdout!r}")
            )
            lines.append(f"- {suspect.name}: {shown}. Disputed because: {suspect.reason}")
    return "\n".join(lines) or "none"


def _corrected(test: TestCase, ruling: DisputeRuling, spec: Spec) -> TestCase | None:
    """The test with the corrected expectation, or None if the correction is unusable."""
    update = (
        {"expected_stdout": ruling.expected_stdout}
        if test.expected_stdout is not None
        else {"expected": ruling.expected}
    )
    if None in update.values():
        return None
    candidate = test.model_copy(update=update)
    if evidence_problems(spec.model_copy(update={"tests": [candidate]})):
        return None
    return candidate


def apply_disputes(
    state: RunState, rulings: dict[str, DisputeRuling]
) -> tuple[Spec, list[DisputeRecord]]:
    assert state.spec and state.pending_review
    tests = list(state.spec.tests)
    records: list[DisputeRecord] = []
    for suspect in state.pending_review.disputes:
        index = next((i for i, t in enumerate(tests) if t.name == suspect.name), None)
        if index is None:
            continue
        test = tests[index]
        ruling = rulings.get(suspect.name) or DisputeRuling(
            name=suspect.name, decision="keep", reason="the vision agent gave no ruling"
        )
        old = test.expected if test.call is not None else repr(test.expected_stdout)
        record = DisputeRecord(
            iteration=state.iteration,
            test_name=suspect.name,
            reason=suspect.reason,
            decision=ruling.decision,
            explanation=ruling.reason,
            old_expected=old,
        )
        if ruling.decision == "correct":
            corrected = _corrected(test, ruling, state.spec)
            if corrected is None:
                record.decision, record.explanation = (
                    "keep",
                    (f"the correction was unusable, the test is kept ({ruling.reason})"),
                )
            else:
                tests[index] = corrected
                record.new_expected = (
                    corrected.expected if corrected.call is not None
                    else repr(corrected.expected_stdout)
                )  # fmt: skip
        elif ruling.decision == "drop":
            tests.pop(index)
        records.append(record)
    return state.spec.model_copy(update={"tests": tests}), records


def apply_counterexamples(
    state: RunState, spec: Spec, verdicts: dict[str, Any]
) -> tuple[Spec, list[CounterexampleRecord]]:
    assert state.pending_review
    records: list[CounterexampleRecord] = []
    added: list[TestCase] = []
    for record in state.pending_review.counterexamples:
        verdict = verdicts.get(record.test.name)
        if verdict is not None and verdict.consistent:
            proposal = record.test
            test = TestCase(
                name=proposal.name,
                call=proposal.call if spec.interface != "stdio" else None,
                expected=proposal.expected if spec.interface != "stdio" else None,
                stdin=proposal.stdin if spec.interface == "stdio" else None,
                expected_stdout=proposal.expected_stdout if spec.interface == "stdio" else None,
                source="reviewer",
            )
            added.append(test)
            records.append(record.model_copy(update={"outcome": "confirmed",
                                                     "reason": verdict.reason}))  # fmt: skip
        else:
            reason = verdict.reason if verdict is not None else "not confirmed by the image"
            records.append(record.model_copy(update={"outcome": "rejected", "reason": reason}))
    return spec.model_copy(update={"tests": [*spec.tests, *added]}), records


def needs_confirmation(state: RunState) -> bool:
    pending = state.pending_review
    return bool(pending and (pending.counterexamples or pending.disputes))


async def confirm_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    assert state.spec and state.pending_review, "confirm runs after the checker or the probe"
    config = run_config(runtime)
    try:
        image = await asyncio.to_thread(
            load_image, state.image_path, cache_dir=Path(config.home) / "images"
        )
    except ImageInputError as exc:
        return {"status": "error", "error": str(exc)}
    tools = await agent_tools(AGENT, config, PROMPT)
    ocr = state.spec.ocr_text
    messages = tools.prompt.format_messages(
        image_name=Path(state.image_path).name,
        spec_json=state.spec.model_dump_json(indent=2, exclude={"ocr_text"}),
        counterexamples=_counterexample_lines(state.pending_review.counterexamples),
        disputes=_dispute_lines(state),
        ocr_section=f"Text read from the image by OCR:\n```\n{ocr}\n```" if ocr else "",
    )
    messages[-1] = HumanMessage(
        content=[
            {"type": "text", "text": str(messages[-1].content)},
            {"type": "image_url", "image_url": {"url": image.data_url}},
        ]
    )
    try:
        confirmation, call = await ask_model(
            AGENT, tools, messages, Confirmation, state, config, autorust_task="confirm"
        )
    except ModelCallError as exc:
        return exc.state_update()
    spec, disputes = apply_disputes(state, {r.name: r for r in confirmation.disputes})
    spec, counterexamples = apply_counterexamples(
        state, spec, {v.name: v for v in confirmation.counterexamples}
    )
    changed = any(d.decision != "keep" for d in disputes)
    return {
        "spec": spec,
        "disputes": disputes,
        "counterexamples": counterexamples,
        "pending_review": None,
        "recheck": changed,
        "prompt_versions": {PROMPT: tools.prompt_version},
        "model_calls": [call],
    }
