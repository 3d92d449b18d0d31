"""Confirmation (vision agent): the image decides what a test should expect.

Called when the code failed a reviewer counterexample, or the checker disputed a spec test.
One vision call, recorded like any other, rules on all of them: confirmed counterexamples join
the spec as ``reviewer`` tests; rejected ones are recorded and dropped; disputed spec tests
are kept, corrected or dropped, with the reason kept in state.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from pydantic import Field, create_model, model_validator

from autorust.graph.context import AutorustConfig
from autorust.graph.state import (
    AgentName,
    Confirmation,
    CounterexampleRecord,
    CounterexampleVerdict,
    DisputeRecord,
    DisputeRuling,
    RunState,
    Spec,
    TestCase,
)
from autorust.imaging.images import ImageInputError, load_image
from autorust.nodes.support.evidence import problems_of_test
from autorust.nodes.support.shared import (
    ModelCallError,
    agent_tools,
    app_config,
    ask_model,
    spec_json,
)
from autorust.nodes.support.untrusted import UNTRUSTED_RULE, untrusted

AGENT = AgentName.VISION
PROMPT = "vision_confirm"


def counterexample_ids(records: list[CounterexampleRecord]) -> list[str]:
    return [f"C{index}" for index in range(1, len(records) + 1)]


def dispute_ids(state: RunState) -> list[str]:
    assert state.pending_review
    return [f"D{index}" for index in range(1, len(state.pending_review.disputes) + 1)]


def _shown(call: str | None, expected: str | None, stdin: str | None, stdout: str | None) -> str:
    """A test's input and expectation as data (the spec's grammar keeps them literal)."""
    if call is not None:
        return f"{untrusted('call', call, 500)} should return {untrusted('value', expected, 500)}"
    shown_in, shown_out = untrusted("input", stdin, 1000), untrusted("output", stdout, 1000)
    return f"stdin {shown_in} should print {shown_out}"


def _counterexample_lines(records: list[CounterexampleRecord]) -> str:
    """Only the input and the reviewer's expected result: the program's output, its code and
    the reviewer's reasoning (written after reading the code) never reach the confirming model."""
    lines = [
        f"- {case_id}: " + _shown(t.call, t.expected, t.stdin, t.expected_stdout)
        for case_id, t in zip(counterexample_ids(records), (r.test for r in records), strict=True)
    ]
    return "\n".join(lines) or "none"


def _dispute_lines(state: RunState) -> str:
    assert state.spec and state.pending_review
    tests = {t.name: t for t in state.spec.tests}
    lines = []
    for case_id, suspect in zip(dispute_ids(state), state.pending_review.disputes, strict=True):
        test = tests.get(suspect.name)
        if test is not None:
            shown = _shown(test.call, test.expected, test.stdin, test.expected_stdout)
            lines.append(f"- {case_id} (spec test {suspect.name!r}): {shown}")
    return "\n".join(lines) or "none"


def _exactly_once(rulings: list[Any], ids: list[str], what: str) -> None:
    given = [ruling.id for ruling in rulings]
    missing = [case_id for case_id in ids if case_id not in given]
    repeated = sorted({case_id for case_id in given if given.count(case_id) > 1})
    if missing or repeated:
        raise ValueError(
            f"give exactly one ruling for each {what} ({', '.join(ids)}): "
            + "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"repeated {', '.join(repeated)}" if repeated else "",
                )
                if part
            )
        )


@functools.lru_cache(maxsize=32)
def confirmation_schema(counterexamples: int, disputes: int) -> type[Confirmation]:
    """The reply model for this many cases: ids as an enum the model cannot garble, and a
    ruling required for every case (a missing one is re-asked, never read as a rejection)."""
    c_ids = [f"C{i}" for i in range(1, counterexamples + 1)]
    d_ids = [f"D{i}" for i in range(1, disputes + 1)]
    c_type: Any = CounterexampleVerdict
    d_type: Any = DisputeRuling
    if c_ids:
        c_type = create_model(
            "CounterexampleVerdict",
            __base__=CounterexampleVerdict,
            id=(Literal[tuple(c_ids)], Field(description="the counterexample's id")),
        )
    if d_ids:
        d_type = create_model(
            "DisputeRuling",
            __base__=DisputeRuling,
            id=(Literal[tuple(d_ids)], Field(description="the disputed test's id")),
        )

    class Reply(Confirmation):
        # a list with no case to rule on is not asked of the model (not in the wire schema)
        counterexamples: list[c_type] = Field(  # type: ignore[valid-type]
            default_factory=list,
            description=f"one ruling for each of: {', '.join(c_ids)}",
            json_schema_extra=None if c_ids else {"reply": False},
        )
        disputes: list[d_type] = Field(  # type: ignore[valid-type]
            default_factory=list,
            description=f"one ruling for each of: {', '.join(d_ids)}",
            json_schema_extra=None if d_ids else {"reply": False},
        )

        @model_validator(mode="after")
        def _every_case_once(self) -> Reply:
            _exactly_once(self.counterexamples, c_ids, "counterexample")
            _exactly_once(self.disputes, d_ids, "disputed test")
            return self

    Reply.__name__ = Reply.__qualname__ = "Confirmation"
    return Reply


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
    if problems_of_test(candidate, spec):
        return None
    return candidate


def apply_disputes(
    state: RunState, rulings: dict[str, DisputeRuling]
) -> tuple[Spec, list[DisputeRecord]]:
    assert state.spec and state.pending_review
    tests = list(state.spec.tests)
    records: list[DisputeRecord] = []
    for case_id, suspect in zip(dispute_ids(state), state.pending_review.disputes, strict=True):
        index = next((i for i, t in enumerate(tests) if t.name == suspect.name), None)
        if index is None:
            continue
        test = tests[index]
        ruling = rulings[case_id]
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
    pending = state.pending_review.counterexamples
    for case_id, record in zip(counterexample_ids(pending), pending, strict=True):
        verdict = verdicts[case_id]
        if verdict.consistent:
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
            records.append(record.model_copy(update={"outcome": "rejected",
                                                     "reason": verdict.reason}))  # fmt: skip
    return spec.model_copy(update={"tests": [*spec.tests, *added]}), records


def needs_confirmation(state: RunState) -> bool:
    pending = state.pending_review
    return bool(pending and (pending.counterexamples or pending.disputes))


async def confirm_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    assert state.spec and state.pending_review, "confirm runs after the checker or the probe"
    config = app_config(runtime)
    try:
        image = await asyncio.to_thread(
            load_image, state.image_path, cache_dir=Path(config.home) / "images"
        )
    except ImageInputError as exc:
        return {"status": "error", "error": str(exc)}
    tools = await agent_tools(AGENT, config, PROMPT)
    ocr = state.spec.ocr_text
    pending = state.pending_review
    messages = tools.prompt.format_messages(
        untrusted_rule=UNTRUSTED_RULE,
        image_name=untrusted("file name", Path(state.image_path).name, 120),
        spec_json=untrusted("specification", spec_json(state.spec, tools.layout), 20_000),
        counterexamples=_counterexample_lines(pending.counterexamples),
        disputes=_dispute_lines(state),
        ocr_section=f"Text read from the image by OCR:\n{untrusted('OCR text', ocr, 4000)}"
        if ocr
        else "",
    )
    parts = [
        {"type": "text", "text": str(messages[-1].content)},
        {"type": "image_url", "image_url": {"url": image.data_url}},
    ]
    if (tools.layout or {}).get("image") == "first":  # the stable prefix first, for caching
        parts.reverse()
    messages[-1] = HumanMessage(content=parts)
    try:
        confirmation, call = await ask_model(
            AGENT, tools, messages,
            confirmation_schema(len(pending.counterexamples), len(pending.disputes)),
            state, config, autorust_task="confirm",
        )  # fmt: skip
    except ModelCallError as exc:
        return exc.state_update()
    spec, disputes = apply_disputes(state, {r.id: r for r in confirmation.disputes})
    spec, counterexamples = apply_counterexamples(
        state, spec, {v.id: v for v in confirmation.counterexamples}
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
