"""llm-sandbox's bubblewrap backend as a bench peer, run by a clean venv's interpreter
(``python -I``: nothing of autorust on its path). Same protocol as ``autogen_peer.py``:
one JSON request per line on stdin, one JSON answer per line on stdout.
  {"op": "run", "code": C}                              -> {"exit", "stdout", "seconds"}
  {"op": "prepare", "concurrency": K}                   -> {} (K sessions opened for "rate")
  {"op": "rate", "code": C, "jobs": N, "concurrency": K} -> {"jobs_per_s"} (every job checked)
The session's calls block, so concurrent jobs run in threads, each with its own session; the
sessions are opened by "prepare", before the bench starts counting CPU, and reused by "rate"
(as its users run it: one session, many runs).
"""

import json
import sys
import threading
import time

from llm_sandbox import SandboxBackend, SandboxSession


def session() -> SandboxSession:
    return SandboxSession(backend=SandboxBackend.BUBBLEWRAP, lang="python")


def run(box: SandboxSession, code: str) -> tuple[int, str]:
    result = box.run(code)
    return result.exit_code, result.stdout


BOXES: list[SandboxSession] = []


def prepare(concurrency: int) -> None:
    while len(BOXES) < concurrency:
        box = session()
        box.open()
        BOXES.append(box)


def rate(request: dict) -> dict:
    """Jobs per second on ``concurrency`` prepared sessions."""
    queue = list(range(request["jobs"]))
    lock = threading.Lock()
    bad: list[str] = []
    prepare(request["concurrency"])
    boxes = BOXES[: request["concurrency"]]

    def worker(box: SandboxSession) -> None:
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop()
            code, out = run(box, f"{request['code']}\n# job {job}")
            if code != 0 or out.strip() != request["expected"]:
                bad.append(f"exit {code}, stdout {out[:200]!r}")

    threads = [threading.Thread(target=worker, args=(box,)) for box in boxes]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"jobs_per_s": request["jobs"] / elapsed, "bad": bad[:3]}


def main() -> None:
    with session() as box:
        for line in sys.stdin:
            request = json.loads(line)
            if request["op"] == "prepare":
                prepare(request["concurrency"])
                answer = {}
            elif request["op"] == "run":
                started = time.perf_counter()
                code, out = run(box, request["code"])
                answer = {"exit": code, "stdout": out, "seconds": time.perf_counter() - started}
            else:
                answer = rate(request)
            print(json.dumps(answer), flush=True)
    for box in BOXES:
        box.close()


main()
