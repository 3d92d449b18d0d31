"""Review probe (interpreter agent): run the reviewer's counterexamples against the code.

A counterexample is only a claim until it runs. Each valid one is executed in the sandbox;
the ones the code passes are recorded and dropped, the ones it fails go to the vision agent
(``nodes/confirm.py``), which decides whether the image really implies that result.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from autorust.graph.context import AutorustConfig
from autorust.graph.state import (
    CounterexampleRecord,
    PendingReview,
    ProposedTest,
    RunState,
    TestCase,
)
from autorust.nodes.interpreter import artifact_dir
from autorust.nodes.support.evidence import as_test
from autorust.nodes.support.execution import SandboxFailure, run_tests
from autorust.nodes.support.shared import app_config
from autorust.sandbox.base import SandboxUnavailableError

MAX_COUNTEREXAMPLES = 3


def needs_probe(state: RunState) -> bool:
    return bool(state.review and state.review.counterexamples and state.spec.kind != "figure")


async def probe_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    assert state.spec and state.code and state.review, "probe runs after the checker"
    config = app_config(runtime)
    records: list[CounterexampleRecord] = []
    runnable: list[tuple[ProposedTest, TestCase]] = []
    for index, proposal in enumerate(state.review.counterexamples[:MAX_COUNTEREXAMPLES], 1):
        test = as_test(proposal, state.spec, index)
        if isinstance(test, str):
            records.append(
                CounterexampleRecord(
                    iteration=state.iteration, test=proposal, outcome="invalid", reason=test
                )
            )
        else:
            runnable.append((proposal, test))
    pending = (state.pending_review or PendingReview()).model_copy(deep=True)
    if runnable:
        try:
            execution = await run_tests(
                state.spec,
                [test for _, test in runnable],
                state.code.source,
                config,
                artifact_dir(config, state, f"iter{state.iteration}-probe"),
            )
        except (SandboxFailure, SandboxUnavailableError) as exc:
            return {"status": "error", "error": f"sandbox failure: {exc}"}
        for (proposal, test), result in zip(runnable, execution.tests, strict=True):
            record = CounterexampleRecord(
                iteration=state.iteration,
                test=proposal.model_copy(update={"name": test.name}),
                outcome="passed_by_code" if result.passed else "not_checked",
                actual=result.exception or result.error or result.actual,
            )
            if result.passed:
                records.append(record)
            else:
                pending.counterexamples.append(record)
    return {"counterexamples": records, "pending_review": pending}
