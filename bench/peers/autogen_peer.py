"""AutoGen's LocalCommandLineCodeExecutor as a bench peer, run by a clean venv's interpreter
(``python -I``: nothing of autorust on its path, so its job starts load nothing of ours).

Reads one JSON request per line on stdin, answers one JSON line on stdout:
  {"op": "run", "code": C}                              -> {"exit", "stdout", "seconds"}
  {"op": "prepare", "concurrency": K}                   -> {} (nothing to prepare)
  {"op": "rate", "code": C, "jobs": N, "concurrency": K} -> {"jobs_per_s"} (every job checked)
The timing is taken here, around the executor's own call: no pipe to the bench is counted.
"""

import asyncio
import json
import sys
import tempfile
import time

from autogen_core import CancellationToken
from autogen_core.code_executor import CodeBlock
from autogen_ext.code_executors.local import LocalCommandLineCodeExecutor


async def rate(run, request: dict) -> dict:  # type: ignore[no-untyped-def]
    queue = list(range(request["jobs"]))
    bad: list[str] = []

    async def worker() -> None:
        while queue:
            # distinct sources: AutoGen names its files by the code's hash
            code, out = await run(f"{request['code']}\n# job {queue.pop()}")
            if code != 0 or out.strip() != request["expected"]:
                bad.append(f"exit {code}, stdout {out[:200]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(request["concurrency"])))
    return {"jobs_per_s": request["jobs"] / (time.perf_counter() - started), "bad": bad[:3]}


async def main() -> None:
    with tempfile.TemporaryDirectory() as work_dir:
        executor = LocalCommandLineCodeExecutor(work_dir=work_dir)
        await executor.start()

        async def run(code: str) -> tuple[int, str]:
            result = await executor.execute_code_blocks(
                [CodeBlock(code=code, language="python")], CancellationToken()
            )
            return result.exit_code, result.output

        for line in sys.stdin:
            request = json.loads(line)
            if request["op"] == "prepare":  # nothing to open ahead: one interpreter per job
                answer = {}
            elif request["op"] == "run":
                started = time.perf_counter()
                code, out = await run(request["code"])
                answer = {"exit": code, "stdout": out, "seconds": time.perf_counter() - started}
            else:
                answer = await rate(run, request)
            print(json.dumps(answer), flush=True)
        await executor.stop()


asyncio.run(main())
