"""What the review did to a run, as plain lines for every view (CLI, `runs show`, report).

Counterexamples (proposed by the checker, executed, ruled on by the vision agent) and disputed
spec tests (kept, corrected or dropped after the vision agent re-read the image).
"""

from __future__ import annotations

from autorust.graph.state import CounterexampleRecord, DisputeRecord, RunState

OUTCOME_TEXT = {
    "passed_by_code": "the code passes it (dropped)",
    "confirmed": "failed by the code, confirmed against the image: joined the spec",
    "rejected": "failed by the code, rejected by the image (dropped)",
    "invalid": "not executable (dropped)",
    "not_checked": "not checked",
}


def counterexample_line(record: CounterexampleRecord) -> str:
    test = record.test
    subject = test.call if test.call is not None else f"stdin {test.stdin!r}"
    expected = test.expected if test.call is not None else repr(test.expected_stdout)
    line = (
        f"attempt {record.iteration + 1}: counterexample {test.name}: {subject} -> expected "
        f"{expected}"
    )
    if record.actual is not None:
        line += f", code gave {record.actual}"
    line += f": {OUTCOME_TEXT[record.outcome]}"
    return line + (f" ({record.reason})" if record.reason else "")


def dispute_line(record: DisputeRecord) -> str:
    line = f"attempt {record.iteration + 1}: disputed test {record.test_name} ({record.reason}): "
    if record.decision == "correct":
        line += f"corrected, expected {record.old_expected} -> {record.new_expected}"
    else:
        line += {"keep": "kept", "drop": "dropped"}[record.decision]
    return line + (f" ({record.explanation})" if record.explanation else "")


def review_lines(state: RunState | None) -> list[str]:
    if state is None:
        return []
    return [
        *(counterexample_line(r) for r in state.counterexamples),
        *(dispute_line(d) for d in state.disputes),
    ]
