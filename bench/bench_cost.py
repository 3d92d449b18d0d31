"""What a folder costs in tokens and money, per structured-output strategy, before and after.

The demo folder (``examples/images``) runs through the real client, graph and sandbox against a
loopback server (tests/support/fake_openai) that answers with the demo's scripted replies and
reports usage like OpenAI: prompt tokens counted with a fixed approximation (4 characters a
token, images by OpenAI's tile formula), ``prompt_tokens_details.cached_tokens`` for the
longest prefix an earlier request of the same folder run shared (1,024 tokens and up, in steps
of 128; tests/support/openai_usage.py). OCR is off (tesseract's text would vary by machine).

Two layouts run in the same process, each on every strategy:

- ``baseline``: the request layout of 38a965c reproduced (its prompt versions, the full JSON
  schema in a trailing system message for json_object/prompt, json_object's response_format
  carrying the schema again, the coding history cut at 12,000 characters from the front).
  The issue measured there: leap_year ~6.8k input tokens under json_schema, ~9.3k under
  json_object (printed beside it).
- ``current``: this checkout's newest prompts and request layout.

Both layouts get the same replies (checked: every item's sequence of served replies and its
final status must be equal), so the difference is the prompts alone.

    .venv/bin/python bench/bench_cost.py                    # every image, every strategy
    .venv/bin/python bench/bench_cost.py --smoke            # leap_year, json_schema + json_object
    .venv/bin/python bench/bench_cost.py --model gpt-4.1-mini --strategies tools
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autorust.graph.context import AutorustConfig  # noqa: E402
from autorust.graph.state import ModelCall  # noqa: E402
from autorust.llm import structured  # noqa: E402
from autorust.reporting.usage import load_prices, summarize_usage  # noqa: E402
from autorust.runtime.batch import BatchRun  # noqa: E402
from autorust.storage.checkpoints import open_checkpointer  # noqa: E402
from tests.support.fake_openai import FakeOpenAI, Reply, ServerProfile, schema_name  # noqa: E402
from tests.support.openai_usage import (  # noqa: E402
    CACHE_MIN_TOKENS,
    CHARS_PER_TOKEN,
    OpenAIUsage,
    _common_prefix,
)

EXAMPLES = ROOT / "examples"
STRATEGIES = ("json_schema", "json_object", "tools", "prompt")
# 38a965c's prompt versions (what the baseline layout sends)
BASELINE_PROMPTS = {"vision": "v3", "coding": "v3", "checker": "v3", "vision_confirm": "v2"}
# measured on 38a965c by the issue (leap_year, six calls, requests captured on loopback)
ISSUE_FIGURES = {("leap_year", "json_schema"): 6800, ("leap_year", "json_object"): 9300}
# a server that accepts every strategy (and json_object's schema), billing like OpenAI
SERVER = ServerProfile("openai-usage")


# ---- the baseline's request layout (38a965c autorust/llm/strategies.py) ---------------------


def legacy_prepare(
    model: Any, strategy: Any, schema: Any, messages: list[Any], options: Any = None
):
    from langchain_core.messages import SystemMessage

    from autorust.graph.state import Review
    from autorust.llm.schemas import json_schema
    from autorust.llm.strategies import Strategy

    name = schema.__name__
    if issubclass(schema, Review):  # 38a965c sent the whole Review schema whatever the task
        schema = Review
    full = json.dumps(schema.model_json_schema(), separators=(",", ":"))
    if strategy is Strategy.JSON_SCHEMA:
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": json_schema(schema), "strict": False},
        }
        return model.bind(response_format=response_format), messages
    if strategy is Strategy.TOOLS:
        tool = {"type": "function", "function": {
            "name": name, "description": f"Return the {name} object.",
            "parameters": json_schema(schema)}}  # fmt: skip
        return model.bind_tools([tool], tool_choice=name), messages
    instructions = SystemMessage(
        f"Reply with one JSON object matching the JSON schema {name} below, and nothing else: "
        f"no prose, no code fences around it.\n{full}"
    )
    with_schema = [*messages, instructions]
    if strategy is Strategy.JSON_OBJECT:
        response_format = {"type": "json_object", "schema": json_schema(schema)}
        return model.bind(response_format=response_format), with_schema
    return model, with_schema


@contextlib.contextmanager
def baseline_layout() -> Iterator[None]:
    current = structured.prepare
    structured.prepare = legacy_prepare  # type: ignore[assignment]
    try:
        yield
    finally:
        structured.prepare = current  # type: ignore[assignment]


# ---- scripted replies over HTTP --------------------------------------------------------------

AGENT_OF = {"Spec": "vision", "CodeArtifact": "coding", "Review": "checker"}


class ScriptedServer:
    """Answers one image's requests from its replies file, as the scripted model would: the
    reply for the attempt in progress (coding calls so far), whatever the prompt looks like."""

    def __init__(self, script: dict[str, list[Any]]) -> None:
        self.script = script
        self.counts: dict[str, int] = {}
        self.served: list[tuple[str, int]] = []

    def __call__(self, request: dict[str, Any]) -> Reply:
        name = schema_name(request) or ""
        agent = AGENT_OF.get(name, "vision_confirm")
        attempt = max(0, self.counts.get("coding", 0) - 1)  # checker and confirm: this one's
        position = self.counts.get(agent, 0) if agent in ("vision", "coding") else attempt
        self.counts[agent] = self.counts.get(agent, 0) + 1
        replies = self.script[agent]
        position = min(position, len(replies) - 1)
        self.served.append((agent, position))
        return replies[position]


@dataclass
class Item:
    image: str
    status: str
    calls: list[ModelCall]
    served: list[tuple[str, int]]
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    first_call_input: int = 0
    shared_prefix: int = 0  # tokens of its later requests an earlier request began with
    later_input: int = 0  # tokens of its requests after the first
    previous_prefix: int = 0  # of later_input: the prefix each shares with the call before it
    previous_prefix_1024: int = 0  # the same, counting only prefixes of 1,024 tokens and up
    agent_prefix_1024: int = 0  # shared with the previous call of the same agent (>= 1,024)
    agent_later_input: int = 0  # tokens of each agent's calls after its first


@dataclass
class FolderRun:
    layout: str
    strategy: str
    items: list[Item] = field(default_factory=list)


def cached_of(call: ModelCall) -> int:
    return int(getattr(call, "cached_input_tokens", 0) or 0)


async def run_folder(
    layout: str, strategy: str, images: list[Path], model: str, home: Path
) -> FolderRun:
    folder = FolderRun(layout, strategy)
    prompts = BASELINE_PROMPTS if layout == "baseline" else {}
    usage = OpenAIUsage()  # one provider cache per folder run (shared across its images)
    prices = load_prices()
    with FakeOpenAI(lambda request: {}, profile=SERVER, usage=usage) as server:
        for image in images:
            script = yaml.safe_load((EXAMPLES / "replies" / f"{image.stem}.yaml").read_text())
            responder = ScriptedServer(script)
            server.responder = responder
            config = AutorustConfig(
                default={"model": model, "base_url": server.base_url,
                         "structured_output": strategy, "server": "openai"},
                home=str(home / layout / strategy / ".autorust"),
                output_dir=str(home / layout / strategy / "out"),
                ocr="off",
                prompt_versions=prompts,
            )  # fmt: skip
            logged, asked = len(usage.log), len(server.requests)
            async with open_checkpointer(config.checkpoint_path) as saver:
                (result,) = await BatchRun([image], config, saver).run()
            calls = list(result.state.model_calls) if result.state else []
            summary = summarize_usage(calls, prices)
            item = Item(image.stem, result.status, calls, responder.served)
            item.input_tokens = summary.total.input_tokens
            item.output_tokens = summary.total.output_tokens
            item.cached_tokens = sum(cached_of(c) for c in calls)
            item.cost = summary.total.cost_usd
            item.first_call_input = calls[0].input_tokens if calls else 0
            later = usage.log[logged + 1 :]
            item.shared_prefix = sum(common for _, common in later)
            item.later_input = sum(tokens for tokens, _ in later)
            texts = usage._seen[logged:]
            for before, text in itertools.pairwise(texts):
                common = _common_prefix(before, text) // CHARS_PER_TOKEN
                item.previous_prefix += common
                item.previous_prefix_1024 += common if common >= CACHE_MIN_TOKENS else 0
            last_of: dict[str, str] = {}
            agents = [schema_name(r) or "" for r in server.requests[asked:]]
            for agent, text in zip(agents, texts, strict=True):
                if agent in last_of:
                    common = _common_prefix(last_of[agent], text) // CHARS_PER_TOKEN
                    item.agent_prefix_1024 += common if common >= CACHE_MIN_TOKENS else 0
                    item.agent_later_input += len(text) // CHARS_PER_TOKEN
                last_of[agent] = text
            folder.items.append(item)
    return folder


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.5f}"


def report(runs: dict[tuple[str, str], FolderRun], strategies: list[str], model: str) -> bool:
    ok = True
    print(f"model {model} (prices.toml), tokens ~ chars/4, images by OpenAI's tile formula\n")
    columns = f"{'input':>7} {'cached':>7} {'output':>7} {'cost':>10}"
    header = f"{'layout':9} {'strategy':12} {'item':14} {'status':10} {columns}"
    for strategy in strategies:
        print(header)
        for layout in ("baseline", "current"):
            for item in runs[layout, strategy].items:
                print(
                    f"{layout:9} {strategy:12} {item.image:14} {item.status:10} "
                    f"{item.input_tokens:7d} {item.cached_tokens:7d} {item.output_tokens:7d} "
                    f"{money(item.cost):>10}"
                )
        print()
    print("per item (mean over the folder):")
    print(f"{'strategy':12} {'layout':9} {columns} {'batch-API cost':>15}")
    for strategy in strategies:
        for layout in ("baseline", "current"):
            items = runs[layout, strategy].items
            cost = [i.cost for i in items if i.cost is not None]
            live = mean(cost) if cost else None
            print(
                f"{strategy:12} {layout:9} {mean([i.input_tokens for i in items]):7.0f} "
                f"{mean([i.cached_tokens for i in items]):7.0f} "
                f"{mean([i.output_tokens for i in items]):7.0f} {money(live):>10} "
                f"{money(live / 2 if live is not None else None):>15}"
            )
    print()
    for strategy in strategies:
        before, after = runs["baseline", strategy].items, runs["current", strategy].items
        same = [
            b.served == a.served and b.status == a.status
            for b, a in zip(before, after, strict=True)
        ]
        if not all(same):
            ok = False
            bad = [b.image for b, s in zip(before, same, strict=True) if not s]
            print(f"{strategy}: NOT the same replies and verdicts for {', '.join(bad)}")
        ratio = mean([a.input_tokens for a in after]) / max(
            1, mean([b.input_tokens for b in before])
        )
        later = [(a.cached_tokens, a.input_tokens - a.first_call_input) for a in after]
        share = sum(c for c, _ in later) / max(1, sum(t for _, t in later))
        prefix = sum(a.shared_prefix for a in after) / max(1, sum(a.later_input for a in after))
        print(
            f"{strategy}: input tokens after each item's first call in a prefix an earlier "
            f"request shared (any length: vLLM/llama.cpp prefix caching): {prefix:.2f}"
        )
        for layout in ("baseline", "current"):
            items = runs[layout, strategy].items
            later_input = max(1, sum(i.later_input for i in items))
            stable = sum(i.previous_prefix for i in items) / later_input
            stable_1024 = sum(i.previous_prefix_1024 for i in items) / later_input
            print(
                f"{strategy} {layout}: share of each image's input tokens after its first call "
                f"in a prefix identical to its previous call's: {stable:.2f}, counting only "
                f"prefixes >= 1,024 tokens (OpenAI): {stable_1024:.2f} (goal >= 0.50)"
            )
            agent_input = max(1, sum(i.agent_later_input for i in items))
            same_agent = sum(i.agent_prefix_1024 for i in items) / agent_input
            print(
                f"{strategy} {layout}: the same, each call against the previous call of its own "
                f"agent (>= 1,024 tokens): {same_agent:.2f}"
            )
        print(
            f"{strategy}: input tokens per item current / baseline {ratio:.2f} "
            f"(target <= 0.60); same replies and verdicts: {all(same)}; "
            f"billed as cached (OpenAI: 1,024-token minimum) after each item's first call "
            f"{share:.2f}"
        )
        for (image, strat), figure in ISSUE_FIGURES.items():
            if strat != strategy:
                continue
            for layout in ("baseline", "current"):
                found = [i for i in runs[layout, strategy].items if i.image == image]
                if found:
                    print(
                        f"  {image} {layout}: {found[0].input_tokens} input tokens "
                        f"(38a965c as measured by the issue: ~{figure})"
                    )
    return ok


async def main(images: list[Path], strategies: list[str], model: str) -> bool:
    runs: dict[tuple[str, str], FolderRun] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for strategy in strategies:
            with baseline_layout():
                runs["baseline", strategy] = await run_folder(
                    "baseline", strategy, images, model, Path(tmp)
                )
            runs["current", strategy] = await run_folder(
                "current", strategy, images, model, Path(tmp)
            )
    return report(runs, strategies, model)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="leap_year, two strategies")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--images", default="", help="comma-separated stems (default: all)")
    parser.add_argument("--model", default="gpt-4o-mini", help="a model in prices.toml")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse(sys.argv[1:])
    warnings.filterwarnings("ignore")
    stems = args.images.split(",") if args.images else []
    strategies = args.strategies.split(",")
    if args.smoke:
        stems, strategies = ["leap_year"], ["json_schema", "json_object"]
    all_images = sorted((EXAMPLES / "images").glob("*.png"))
    chosen = [p for p in all_images if not stems or p.stem in stems]
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad or not chosen or not re.fullmatch(r"[\w.\-]+", args.model):
        sys.exit(f"unknown strategy or image: {bad or stems}")
    sys.exit(0 if asyncio.run(main(chosen, strategies, args.model)) else 1)
