"""The autorust CLI, killed with SIGKILL the moment its N-th model call has returned.

``CRASH_AFTER_CALL=N python tests/support/crash_after_reply.py run ...``: the worst moment for
a crash, after the model was paid for and before the node's result is checkpointed.
"""

from __future__ import annotations

import os
import signal
import sys

import autorust.nodes.support.shared as shared
from autorust.cli.main import main

CRASH_AFTER = int(os.environ["CRASH_AFTER_CALL"])
original = shared.invoke_structured
calls = 0


async def invoke_then_crash(*args, **kwargs):  # type: ignore[no-untyped-def]
    global calls
    result = await original(*args, **kwargs)
    calls += 1
    if calls == CRASH_AFTER:
        os.kill(os.getpid(), signal.SIGKILL)
    return result


shared.invoke_structured = invoke_then_crash  # type: ignore[assignment]

if __name__ == "__main__":
    sys.argv = ["autorust", *sys.argv[1:]]
    main()
