"""Typed state that flows through the four agents, and the models exchanged at each boundary.

State is small and serialisable: images are referenced by path and content hash, never embedded.
"""

from __future__ import annotations

import functools
import operator
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from autorust.graph.agents import MODEL_AGENTS, AgentName  # noqa: F401  (re-exported)

TaskKind = Literal["program", "figure"]
Interface = Literal["function", "stdio", "figure"]
RunStatus = Literal["running", "passed", "failed", "unverified", "error", "budget_exceeded"]
"""``passed``: executed evidence says the code meets the spec. ``failed``: it does not, after
the last attempt. ``unverified``: the task yielded nothing executable to judge code by, so no
verdict is possible (never a pass). ``error``: the run could not be carried out (bad image, model
or sandbox failure); a plain rerun retries it."""
TestSource = Literal["spec", "reviewer"]


class TestCase(BaseModel):
    """One acceptance test written by the spec author (never by the coder). A test is data.

    Either a function test (``call``: the function with literal arguments, ``solve(2, 3)``;
    ``expected``: the literal it must return, compared type-strictly) or a stdio test (``stdin``
    fed to the program, its stdout compared exactly up to trailing whitespace per line and
    trailing newlines). The grammar and comparison rules: ``sandbox/literals.py``.
    """

    __test__ = False  # not a pytest class

    name: str = Field(description="short identifier, e.g. 'adds_small_numbers'")
    call: str | None = Field(
        None, description="the function with literal arguments only, e.g. 'solve(2, [1, 2])'"
    )
    expected: str | None = Field(
        None, description="the literal value it returns, e.g. '5' (no expressions, no calls)"
    )
    tolerance: float | None = Field(
        None,
        ge=0,
        description="absolute tolerance for float results, only when the task states one",
    )
    stdin: str | None = Field(None, description="text fed to the program's standard input")
    expected_stdout: str | None = Field(None, description="exact expected standard output")
    source: TestSource = Field(
        "spec",
        description="who wrote it: the spec author ('spec') or a reviewer counterexample "
        "confirmed against the image ('reviewer')",
        json_schema_extra={"reply": False},  # set by autorust, never asked of a model
    )

    @model_validator(mode="after")
    def _one_style(self) -> TestCase:
        function_style = self.call is not None and self.expected is not None
        stdio_style = self.expected_stdout is not None
        if function_style == stdio_style:
            raise ValueError(
                f"test {self.name!r} needs either call+expected or expected_stdout (exactly one)"
            )
        return self


class Spec(BaseModel):
    """What to build, derived from the image by the vision agent."""

    title: str
    kind: TaskKind = "program"
    interface: Interface = Field(
        "function",
        description="'function': tests call a function; 'stdio': tests feed stdin; "
        "'figure': the program saves a matplotlib figure to output.png",
    )
    function_name: str | None = Field(None, description="name of the function tests call")
    description: str
    inputs: str = ""
    outputs: str = ""
    constraints: list[str] = Field(default_factory=list)
    tests: list[TestCase] = Field(default_factory=list)
    ocr_text: str | None = Field(
        None,
        description="text read from the image by OCR, if any",
        json_schema_extra={"reply": False},  # set by autorust, never asked of a model
    )


class CodeArtifact(BaseModel):
    language: Literal["python"] = "python"
    source: str = Field(description="the complete program")
    dependencies: list[str] = Field(
        default_factory=list, description="third-party imports the program assumes"
    )
    notes: str = Field("", description="what changed since the last attempt and why")

    @field_validator("source")
    @classmethod
    def _complete_program(cls, source: str) -> str:
        """Empty or cut-off code is an invalid reply (re-asked), never something to run."""
        if problem := _compile_problem(source):
            raise ValueError(problem)
        return source


@functools.lru_cache(maxsize=512)  # the state is re-validated at every step: compile once
def _compile_problem(source: str) -> str | None:
    if not source.strip():
        return "source is empty: reply with the complete program"
    try:
        compile(source, "solution.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return (
            f"source is not valid Python (line {exc.lineno}: {exc.msg}); it may be cut off: "
            "reply with the complete program"
        )
    except ValueError as exc:  # e.g. null bytes
        return f"source cannot be compiled: {exc}"
    return None


class TestResult(BaseModel):
    """One test's outcome, as the harness observed it (values are Python ``repr``s)."""

    __test__ = False

    name: str
    passed: bool
    call: str | None = Field(None, description="the expression evaluated (function tests)")
    stdin: str | None = Field(None, description="the input fed (stdio tests)")
    expected: str | None = None
    actual: str | None = Field(None, description="repr of the value returned / stdout printed")
    exception: str | None = Field(None, description="'Type: message' when the code raised")
    error: str | None = Field(None, description="why no value could be observed (timeout ...)")
    note: str | None = Field(None, description="how actual differs beyond its text (its type)")
    stdout: str | None = Field(None, description="excerpt of what the code printed")
    stderr: str | None = Field(None, description="excerpt of the code's standard error")
    source: TestSource = "spec"


class Execution(BaseModel):
    backend: str
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    timed_out: bool = False
    truncated: bool = False
    tests: list[TestResult] = Field(default_factory=list)
    artifacts: dict[str, str] = Field(
        default_factory=dict,
        description="name -> path of a file the run produced (e.g. output.png)",
    )
    warnings: list[str] = Field(default_factory=list)
    harness_ok: bool = Field(
        True, description="the test harness reported (False: it was killed or ran out of time)"
    )
    limits_hit: list[str] = Field(
        default_factory=list, description="sandbox limits the run ran into (disk, CPU, ...)"
    )

    @property
    def tests_passed(self) -> int:
        return sum(t.passed for t in self.tests)


class ProposedTest(BaseModel):
    """A test the reviewer believes the code gets wrong, to be executed (never taken on trust)."""

    __test__ = False

    name: str = Field(description="short identifier, e.g. 'empty_list'")
    call: str | None = Field(
        None, description="the spec's function with literal arguments only, e.g. 'f(1900)'"
    )
    expected: str | None = Field(None, description="the literal value the call should return")
    stdin: str | None = Field(None, description="input for a stdio program")
    expected_stdout: str | None = Field(None, description="what a stdio program should print")
    rationale: str = Field("", description="why the task implies this expectation")


class SuspectTest(BaseModel):
    """A spec test whose expected value the reviewer believes the spec author misread."""

    name: str = Field(description="the spec test's name")
    reason: str = Field(description="why the expected value looks wrong for this task")


class Review(BaseModel):
    """The checker model's review. It cannot pass or fail code: it can only propose
    counterexample tests (executed against the code) and dispute spec tests (re-read from the
    image by the vision agent)."""

    summary: str = Field("", description="one or two sentences on how the program does the task")
    concerns: list[str] = Field(
        default_factory=list,
        description="risks not covered by the tests (informational; they do not fail the code)",
    )
    counterexamples: list[ProposedTest] = Field(
        default_factory=list,
        description="up to 3 tests the code likely fails, each with the expected result the "
        "task implies",
    )
    suspect_tests: list[SuspectTest] = Field(
        default_factory=list,
        description="spec tests whose expected value contradicts the task (only tests that "
        "failed for several different programs)",
    )
    feedback: str = Field("", description="actionable advice for the coder")


CounterexampleOutcome = Literal["passed_by_code", "confirmed", "rejected", "invalid", "not_checked"]


class CounterexampleRecord(BaseModel):
    """What became of one reviewer counterexample (kept in state, shown in runs/report)."""

    iteration: int
    test: ProposedTest
    outcome: CounterexampleOutcome
    actual: str | None = None
    reason: str = ""


DisputeDecision = Literal["keep", "correct", "drop"]


class DisputeRecord(BaseModel):
    """A spec test the checker disputed, and the vision agent's decision on re-reading it."""

    iteration: int
    test_name: str
    reason: str
    decision: DisputeDecision
    explanation: str = ""
    old_expected: str | None = None
    new_expected: str | None = None


class FigureComparison(BaseModel):
    """Render-and-compare result for figure tasks (see autorust/imaging/figures/).

    ``passed`` is the verdict: the score reaches the threshold and no check failed. Every entry
    of ``failed_checks`` fails the figure and tells the coder what to change; ``differences``
    is the same list (kept for readers of older results); ``notes`` are informational only."""

    score: float = Field(ge=0, le=1)
    ssim: float
    colour_score: float
    text_score: float | None = None
    passed: bool = False
    failed_checks: list[str] = Field(default_factory=list)
    differences: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_older_results(cls, data: object) -> object:
        """Results saved before ``passed`` existed: judged as they were then (score >= 0.9,
        every confident target word present), every difference a failed check."""
        if isinstance(data, dict) and "passed" not in data:
            text = data.get("text_score")
            passed = data.get("score", 0) >= 0.9 and (text is None or text >= 1.0)
            data = {**data, "passed": passed}
            if not passed:
                data.setdefault("failed_checks", list(data.get("differences") or []))
        return data

    def meets(self, threshold: float) -> bool:
        """The verdict at another threshold: no failed check and the score reaches it."""
        return not self.failed_checks and self.score >= threshold


class CounterexampleVerdict(BaseModel):
    id: str = Field(description="the counterexample's id as given, e.g. 'C1'")
    consistent: bool = Field(description="true only if the image implies that expected result")
    reason: str = ""


class DisputeRuling(BaseModel):
    id: str = Field(description="the disputed test's id as given, e.g. 'D1'")
    decision: DisputeDecision
    expected: str | None = Field(None, description="corrected literal value (function tests)")
    expected_stdout: str | None = Field(None, description="corrected output (stdio tests)")
    reason: str = ""


class Confirmation(BaseModel):
    """The vision agent's decisions after re-reading the image: exactly one ruling for each
    case, joined by the id it was given (``C1``..., ``D1``...), never by a name."""

    counterexamples: list[CounterexampleVerdict] = Field(default_factory=list)
    disputes: list[DisputeRuling] = Field(default_factory=list)


class PendingReview(BaseModel):
    """Review work between the checker and the judge: counterexamples the code failed, awaiting
    the vision agent, and disputed spec tests."""

    counterexamples: list[CounterexampleRecord] = Field(default_factory=list)
    disputes: list[SuspectTest] = Field(default_factory=list)


class Verdict(BaseModel):
    """Passed only on executed evidence: every test (spec and confirmed reviewer tests) passed,
    or for a figure, render-and-compare accepted the rendering."""

    passed: bool
    score: float = Field(ge=0.0, le=1.0, description="share of tests passed (figure: similarity)")
    failed_checks: list[str] = Field(default_factory=list)
    feedback: str = ""
    hard_evidence_ok: bool = False
    evidence: str = Field("", description="what the verdict rests on, e.g. '6/6 tests passed'")
    tests_changed: list[str] = Field(
        default_factory=list, description="spec tests corrected or dropped by a dispute, and why"
    )
    review: Review | None = None
    figure: FigureComparison | None = None


class Attempt(BaseModel):
    iteration: int
    code: CodeArtifact
    execution: Execution
    verdict: Verdict


class ModelCall(BaseModel):
    """One agent's model exchange (including regenerations), for the usage ledger."""

    agent: str
    iteration: int
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = Field(
        0, description="of input_tokens, read from the provider's prompt cache (cheaper)"
    )
    latency_s: float = 0.0
    regenerations: list[str] = Field(
        default_factory=list, description="why each earlier reply was rejected"
    )
    retries: int = Field(0, description="HTTP requests repeated after transient errors")
    transient_errors: list[str] = Field(
        default_factory=list, description="e.g. 'HTTP 429', 'HTTP 500', 'timeout'"
    )
    structured_output: str = Field(
        "", description="the structured-output strategy of the last request (json_schema ...)"
    )


def merge_dicts(left: dict[str, str], right: dict[str, str]) -> dict[str, str]:
    return {**left, **right}


# an image_path "store:<sha256>/<name>": the image was uploaded to the LangGraph server's
# store under IMAGE_NAMESPACE (a remote server needs no shared disk)
STORE_PREFIX = "store:"
IMAGE_NAMESPACE = ("autorust", "images")


class InputState(BaseModel):
    """What a run starts from (all LangGraph Studio asks for)."""

    image_path: str = Field(description="path of the task image, readable by the server")
    max_iterations: int | None = Field(
        None, ge=1, le=100, description="coding attempts (default: the run context's)"
    )


class OutputState(BaseModel):
    """What a finished run returns."""

    status: RunStatus = "running"
    spec: Spec | None = None
    code: CodeArtifact | None = None
    verdict: Verdict | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    counterexamples: list[CounterexampleRecord] = Field(default_factory=list)
    disputes: list[DisputeRecord] = Field(default_factory=list)
    iteration: int = 0
    error: str | None = None


class RunState(BaseModel):
    """The graph's state. Input: ``image_path`` (everything else has defaults)."""

    image_path: str
    image_sha256: str = ""
    max_iterations: int | None = Field(
        None, ge=1, le=100, description="set from the context on the first step if not given"
    )
    spec: Spec | None = None
    code: CodeArtifact | None = None
    execution: Execution | None = None
    verdict: Verdict | None = None
    feedback: str | None = Field(None, description="extra feedback for the next coding attempt")
    attempts: Annotated[list[Attempt], operator.add] = Field(default_factory=list)
    iteration: int = 0
    status: RunStatus = "running"
    error: str | None = None
    prompt_versions: Annotated[dict[str, str], merge_dicts] = Field(default_factory=dict)
    model_provider: str = ""
    approval: Literal["approved", "revise", "rejected"] | None = Field(
        None, description="the reviewer's decision on the latest code (approval mode only)"
    )
    model_calls: Annotated[list[ModelCall], operator.add] = Field(default_factory=list)
    review: Review | None = Field(None, description="the checker's latest review")
    pending_review: PendingReview | None = None
    counterexamples: Annotated[list[CounterexampleRecord], operator.add] = Field(
        default_factory=list
    )
    disputes: Annotated[list[DisputeRecord], operator.add] = Field(default_factory=list)
    recheck: bool = Field(
        False, description="re-run the same code: a dispute changed a test it was judged by"
    )
