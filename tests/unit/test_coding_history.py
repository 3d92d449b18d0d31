"""The coding prompt's history at attempt boundaries (issue 28: v3 cut it at 12,000 characters
from the front, mid-code, with no attempt header left)."""

from __future__ import annotations

from autorust.graph.state import Attempt, CodeArtifact, Execution, RunState, Verdict
from autorust.nodes.coding import history_section


def attempt(index: int, lines: int) -> Attempt:
    body = "".join(f"    x{i} = {i}\n" for i in range(lines))
    return Attempt(
        iteration=index,
        code=CodeArtifact(source=f"def f():\n{body}    return {index}\n", notes=f"try {index}"),
        execution=Execution(backend="test", exit_code=1),
        verdict=Verdict(passed=False, score=0.0, feedback=f"feedback {index}", evidence="0/1"),
    )


def test_newest_attempts_whole_older_summarised_never_cut_mid_code() -> None:
    state = RunState(image_path="x.png", attempts=[attempt(i, 300) for i in range(5)])
    new = history_section(state, {"history": "attempts"})
    old = history_section(state)
    for index in (3, 4):  # the two newest, whole
        assert state.attempts[index].code.source in new
    for index in (0, 1, 2):  # older: one line each, no code
        assert f"Attempt {index + 1} (failed; code not shown): 0/1" in new
        assert f"feedback {index}" in new
    assert new.count("```python") == new.count("```\n") == 2
    assert old.count("```python") < old.count("```\n")  # v3: cut inside an attempt
    assert len(new) < len(old) * 1.1


def test_an_attempt_too_big_for_the_budget_is_summarised_but_the_newest_stays_whole() -> None:
    state = RunState(image_path="x.png", attempts=[attempt(0, 900), attempt(1, 900)])
    text = history_section(state, {"history": "attempts"})
    assert state.attempts[1].code.source in text
    assert "Attempt 1 (failed; code not shown)" in text
