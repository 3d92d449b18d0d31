"""With OCR off, the vision model's own ``ocr_text`` is discarded (issue 23 case 12): the
prompt asks for it, and on 38a965c the invented text was kept and later shown to the
confirming model as "text read from the image by OCR"."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from autorust.graph.context import AutorustConfig
from autorust.runtime.batch import BatchRun
from autorust.storage.checkpoints import open_checkpointer
from tests.support.bad_images import copy_examples
from tests.support.fake_openai import FakeOpenAI, replies_by_schema

ROOT = Path(__file__).resolve().parents[2]
REPLIES = yaml.safe_load((ROOT / "examples" / "replies" / "sum_even.yaml").read_text())
INVENTED = "def sum_even(numbers): INVENTED BY THE MODEL"


async def test_with_ocr_off_the_models_ocr_text_is_discarded(tmp_path: Path) -> None:
    script = copy.deepcopy(REPLIES)
    for spec in script["vision"]:
        spec["ocr_text"] = INVENTED
    images = copy_examples(tmp_path / "images", 1)
    with FakeOpenAI(replies_by_schema(script)) as server:
        config = AutorustConfig(
            default={"model": "m", "base_url": server.base_url},
            home=str(tmp_path / "home"),
            ocr="off",
        )
        async with open_checkpointer(config.checkpoint_path) as saver:
            [result] = await BatchRun(images, config, saver).run()
        later = [r for r in server.requests[1:] if INVENTED in json.dumps(r)]
    assert result.state is not None and result.state.spec is not None
    assert result.state.spec.ocr_text is None
    assert later == []  # no later prompt carries it
