"""report.html: one self-contained, responsive page with a card per image.

Each card shows the input image large enough to read, the spec, every test with where it came
from (spec, reviewer, corrected) and its result in the final attempt, every attempt with its
verdict and what changed, the rendered figure beside its target for figure tasks, and tokens,
cost and time. Buttons filter the cards by status (radio buttons and CSS: no script). Nothing
is loaded from elsewhere: images are embedded as data URIs.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autorust.reporting.review import review_lines

if TYPE_CHECKING:
    from autorust.graph.state import Attempt, RunState, TestResult
    from autorust.outcomes import ItemResult

IMAGE_SIDE = 1000  # px: the input image's longest side as embedded (shown scaled to the card)
FIGURE_FILE = "output.png"
esc = html.escape

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0 auto;padding:1rem;max-width:110rem;color:#222;
 overflow-wrap:anywhere}
h1{margin:.2rem 0}
.banner{background:#fff4ce;border:1px solid #e0c45c;padding:.5rem 1rem;margin:.5rem 0}
.filters{display:flex;flex-wrap:wrap;gap:.4rem;margin:.8rem 0}
.filter{position:absolute;opacity:0}
.filters label{border:1px solid #bbb;background:#fafafa;border-radius:1rem;padding:.2rem .8rem;
 cursor:pointer}
.card{border:1px solid #ddd;border-radius:.5rem;padding:1rem;margin:1rem 0;min-width:0}
.card header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:baseline}
.card h2{margin:0;font-size:1.2rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,28rem),1fr));gap:1rem;
 margin-top:.8rem}
.grid>*{min-width:0}
img{max-width:100%;height:auto;border:1px solid #eee;background:#fff}
pre{background:#f7f7f7;padding:.5rem;max-height:24rem;overflow:auto;white-space:pre-wrap;
 word-break:break-word;margin:.3rem 0}
table{border-collapse:collapse;width:100%;display:block;overflow-x:auto}
td,th{border:1px solid #ddd;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f4f4f4}
details{margin:.4rem 0}summary{cursor:pointer}
.passed,.ok{color:#137333;font-weight:bold}.failed,.error,.bad{color:#b3261e;font-weight:bold}
.unverified,.running{color:#8a5a00;font-weight:bold}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,16rem),1fr));gap:.5rem}
.nothumb{padding:2rem;background:#eee;color:#777;text-align:center}
.meta{color:#555;font-size:.9rem}
"""


_THUMBS: dict[tuple[bytes, int], str] = {}  # content hash, side -> base64 PNG (one process)
_MAX_THUMBS = 2048


def embedded_image(path: str | None, alt: str, side: int = IMAGE_SIDE) -> str:
    """An ``<img>`` holding the picture itself, or a box saying there is none. Files with the
    same bytes (a folder's copies, a rerun's inputs) are thumbnailed once per process."""
    from PIL import Image

    if not path:
        return '<div class="nothumb">no image</div>'
    try:
        source: Path | io.BytesIO = Path(path)
        key = None
        if Path(path).stat().st_size <= 64 * 1024 * 1024:
            source = io.BytesIO(Path(path).read_bytes())
            key = (hashlib.sha256(source.getbuffer()).digest(), side)
        data = _THUMBS.get(key) if key else None
        if data is None:
            with Image.open(source) as img:
                img.seek(0)
                picture = img.convert("RGB")
                picture.thumbnail((side, side))
                buffer = io.BytesIO()
                picture.save(buffer, format="PNG")
            data = base64.b64encode(buffer.getvalue()).decode()
            if key is not None:
                if len(_THUMBS) >= _MAX_THUMBS:
                    _THUMBS.clear()
                _THUMBS[key] = data
    except Exception:  # a broken input has no preview; its card says why
        return '<div class="nothumb">no preview</div>'
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def _spec(state: RunState | None) -> str:
    spec = state.spec if state else None
    if spec is None:
        return "<p class=meta>no spec</p>"
    parts = [f"<h3>{esc(spec.title)}</h3>",
             f"<p class=meta>{esc(spec.kind)}, {esc(spec.interface)}</p>",
             f"<p>{esc(spec.description)}</p>"]  # fmt: skip
    if spec.inputs:
        parts.append(f"<p><b>inputs</b> {esc(spec.inputs)}</p>")
    if spec.outputs:
        parts.append(f"<p><b>outputs</b> {esc(spec.outputs)}</p>")
    if spec.constraints:
        parts.append("<ul>" + "".join(f"<li>{esc(c)}</li>" for c in spec.constraints) + "</ul>")
    return "".join(parts)


def _test_row(test: TestResult) -> str:
    what = test.call or (f"stdin {test.stdin!r}" if test.stdin is not None else "")
    got = test.actual or test.exception or test.error or ""
    mark = '<span class="ok">pass</span>' if test.passed else '<span class="bad">fail</span>'
    return (f"<tr><td>{esc(test.name)}</td><td>{esc(test.source)}</td><td><code>{esc(what)}"
            f"</code></td><td><code>{esc(test.expected or '')}</code></td><td><code>{esc(got)}"
            f"</code></td><td>{mark}</td></tr>")  # fmt: skip


def _tests(state: RunState | None) -> str:
    if state is None or not state.attempts:
        count = len(state.spec.tests) if state and state.spec else 0
        return f"<p class=meta>{count} tests, none run</p>"
    tests = state.attempts[-1].execution.tests
    rows = "".join(_test_row(t) for t in tests)
    passed = sum(t.passed for t in tests)
    return (f"<h3>Tests (last attempt: {passed}/{len(tests)} passed)</h3><table><tr><th>test</th>"
            "<th>from</th><th>call / input</th><th>expected</th><th>got</th><th>result</th></tr>"
            f"{rows}</table>")  # fmt: skip


def _attempt(attempt: Attempt, previous: Attempt | None) -> str:
    verdict = attempt.verdict
    mark = ('<span class="ok">pass</span>' if verdict.passed
            else '<span class="bad">fail</span>')  # fmt: skip
    changed = ""
    if previous is not None:
        import difflib

        diff = difflib.unified_diff(previous.code.source.splitlines(),
                                    attempt.code.source.splitlines(), "previous", "this",
                                    lineterm="", n=1)  # fmt: skip
        changed = (
            f"<details><summary>change</summary><pre>{esc(chr(10).join(diff))}</pre></details>"
        )
    notes = f"<p>{esc(attempt.code.notes)}</p>" if attempt.code.notes else ""
    feedback = f"<pre>{esc(verdict.feedback)}</pre>" if verdict.feedback else ""
    return (f"<details{' open' if not verdict.passed else ''}><summary>attempt "
            f"{attempt.iteration + 1}: {mark} score {verdict.score:.2f} "
            f"<span class=meta>{esc(verdict.evidence)}</span></summary>{notes}{feedback}"
            f"{changed}<details><summary>code</summary><pre>{esc(attempt.code.source)}</pre>"
            "</details></details>")  # fmt: skip


def _figure(result: ItemResult) -> str:
    state = result.state
    if state is None or state.spec is None or state.spec.kind != "figure" or not state.attempts:
        return ""
    rendered = state.attempts[-1].execution.artifacts.get(FIGURE_FILE)
    return ("<h3>Rendered beside its target</h3><div class=figures><figure>"
            f"{embedded_image(result.image_path, 'target', 600)}<figcaption>target</figcaption>"
            f"</figure><figure>{embedded_image(rendered, 'rendered', 600)}<figcaption>rendered "
            "(last attempt)</figcaption></figure></div>")  # fmt: skip


def card(result: ItemResult, item: Any, notes: str) -> str:
    """``item`` is the image's ``ItemSummary`` (report.py)."""
    state = result.state
    attempts = state.attempts if state else []
    history = "".join(_attempt(a, attempts[i - 1] if i else None) for i, a in enumerate(attempts))
    label = "unverified" if item.status == "unverified" else "error"
    error = f"<p><b>{label}:</b></p><pre>{esc(item.error)}</pre>" if item.error else ""
    review = review_lines(state)
    review_html = ("<ul>" + "".join(f"<li>{esc(r)}</li>" for r in review) + "</ul>"
                   if review else "")  # fmt: skip
    final = (f"<details><summary>final code</summary><pre>{esc(state.code.source)}</pre>"
             "</details>" if state and state.code else "")  # fmt: skip
    score = f" score {item.score:.2f}" if item.score is not None else ""
    note = f" <i>{esc(notes)}</i>" if notes else ""
    return f"""<section class="card" data-status="{esc(item.status)}">
<header><h2>{esc(Path(result.image_path).name)}</h2>
<span class="{esc(item.status)}">{esc(item.status)}</span>
<span class=meta>{item.iterations} attempt(s){score}, {item.duration_s:.1f}s,
{item.input_tokens:,} tokens in ({item.cached_input_tokens:,} cached) / \
{item.output_tokens:,} out{note}</span>
<span class=meta>thread {esc(item.thread_id or "")}</span></header>
<div class="grid"><div>{embedded_image(result.image_path, "input")}</div>
<div>{_spec(state)}{error}</div></div>
{_figure(result)}{_tests(state)}<h3>Attempts</h3>{history or "<p class=meta>none</p>"}
{review_html}{final}</section>"""


def _filter_css(statuses: list[str]) -> str:
    """Radio buttons choose a status; CSS hides the other cards and marks the chosen label."""
    rules = ["#f-all:checked~.filters label[for=f-all]{background:#222;color:#fff}"]
    for index, status in enumerate(statuses):
        rules.append(
            f"#f-{index}:checked~.filters label[for=f-{index}]{{background:#222;color:#fff}}"
            f'#f-{index}:checked~.card:not([data-status="{esc(status)}"]){{display:none}}'
        )
    return "\n".join(rules)


def page(cards: list[str], counts: dict[str, int], head: str, tail: str) -> str:
    """The whole document; ``counts`` is status -> images (the filter buttons)."""
    statuses = sorted(counts)
    radios = '<input class="filter" type="radio" name="f" id="f-all" checked>' + "".join(
        f'<input class="filter" type="radio" name="f" id="f-{i}">' for i in range(len(statuses))
    )
    labels = '<label for="f-all">all</label>' + "".join(
        f'<label for="f-{i}">{esc(s)} ({counts[s]})</label>' for i, s in enumerate(statuses)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>autorust report</title><style>{STYLE}{_filter_css(statuses)}</style></head>
<body>{head}{radios}<nav class="filters">{labels}</nav>
{"".join(cards)}{tail}</body></html>
"""
