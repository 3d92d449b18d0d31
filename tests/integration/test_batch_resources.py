"""The batch's resources are what its runs use, passed down, not found in the process (#27)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autorust.graph.context import AutorustConfig
from autorust.runtime.batch import BatchRun
from autorust.runtime.resources import BatchResources
from autorust.sandbox.factory import make_executor
from autorust.storage.checkpoints import open_checkpointer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "images"


class Recording:
    """The real executor, counting the jobs that reach it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.jobs = inner, 0
        self.name = inner.name

    async def execute(self, job: Any) -> Any:
        self.jobs += 1
        return await self.inner.execute(job)


async def test_the_runs_of_a_batch_use_its_executor(scripted_config: AutorustConfig) -> None:
    executor = Recording(make_executor(scripted_config.executor))
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        (result,) = await BatchRun(
            [EXAMPLES / "sum_even.png"], scripted_config, saver, executor=executor
        ).run()
    assert result.status == "passed", result.error
    assert executor.jobs >= 1


async def test_a_saver_gives_the_resources_its_reply_journal(tmp_path: Path) -> None:
    async with (
        open_checkpointer(tmp_path / "c.sqlite") as saver,
        BatchResources.open(saver) as resources,
    ):
        assert resources.journal is not None
        assert resources.holders is None  # SQLite: the run index records holders
        assert resources.budget is None and resources.stop is None
    async with BatchResources.open() as bare:
        assert bare.journal is None


async def test_the_batch_closes_the_model_clients_it_made() -> None:
    import asyncio

    from autorust.llm.models import make_chat_model

    config = AutorustConfig(default={"model": "m", "base_url": "http://127.0.0.1:9/v1"})
    loop = asyncio.get_running_loop()
    async with BatchResources.open() as resources:
        model = make_chat_model("coding", config, loop=loop, clients=resources.clients)
        assert make_chat_model("coding", config, loop=loop, clients=resources.clients) is model
        assert make_chat_model("coding", config, loop=loop) is not model  # not the process's
        assert not model.http_async_client.is_closed
    assert model.http_async_client.is_closed


async def test_a_batch_builds_its_models_with_its_journal_once(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Each model call uses the batch's model as it is: no per-call copy to attach the journal."""
    from autorust.nodes.support import shared

    config = AutorustConfig(
        provider="scripted", scripted_replies=str(tmp_path), home=str(tmp_path / "home")
    )
    async with (
        open_checkpointer(tmp_path / "c.sqlite") as saver,
        BatchResources.open(saver) as resources,
    ):
        monkeypatch.setattr(shared, "run_resources", lambda: resources)
        tools = await shared.agent_tools("coding", config)
        assert tools.model.cache is resources.journal
        assert resources.with_journal(tools.model) is tools.model
    async with BatchResources.open() as bare:  # no journal: the model is left as it is
        assert bare.with_journal(tools.model) is tools.model
