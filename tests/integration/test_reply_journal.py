"""kill -9 right after a model call returned: the resumed run never repeats that call.

Observed on 3f763c6: after ``kill -9``, 1 of 8 resumes repeated a model call that had already
returned (the reply lived only in memory until the node's checkpoint). The model here is a
real OpenAI-compatible HTTP server on loopback that counts every request.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.support.fake_openai import FakeOpenAI, replies_by_schema, schema_name

pytestmark = pytest.mark.bwrap
ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "examples" / "images" / "sum_even.png"  # passes first time: 3 model calls


def cli(script: list[str], server: FakeOpenAI, tmp_path: Path, **env: str):
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))
    }
    environment |= {
        "AUTORUST_HOME": str(tmp_path / ".autorust"),
        "AUTORUST_DEFAULT__MODEL": "gpt-4o-mini",
        "AUTORUST_DEFAULT__BASE_URL": server.base_url,
        "AUTORUST_OCR": "off",
        "OPENAI_API_KEY": "sk-local-test-key",
        **env,
    }
    return subprocess.run(
        [sys.executable, *script, "run", str(IMAGE), "--output", "quiet",
         "--out", str(tmp_path / "out")],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


@pytest.mark.parametrize("crash_after", [1, 2, 3], ids=["vision", "coding", "checker"])
def test_no_model_call_is_repeated_after_kill_9(tmp_path: Path, crash_after: int) -> None:
    with FakeOpenAI(replies_by_schema(json.loads(json.dumps(_script())))) as server:
        crashed = cli(["tests/support/crash_after_reply.py"], server, tmp_path,
                      CRASH_AFTER_CALL=str(crash_after))  # fmt: skip
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
        assert len(server.requests) == crash_after
        resumed = cli(["-m", "autorust.cli.main"], server, tmp_path)
        assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
        asked = Counter(schema_name(request) for request in server.requests)
    assert asked == {"Spec": 1, "CodeArtifact": 1, "Review": 1}, "a returned call was repeated"
    summary = json.loads((tmp_path / "out" / "latest" / "summary.json").read_text())
    assert summary["counts"] == {"passed": 1}
    assert summary["usage"]["total"]["calls"] == 3


def _script() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "examples" / "replies" / "sum_even.yaml").read_text())
