"""One switch per batch that the first billing/quota or credentials error turns off.

Such an error (``ModelAccountError``) means no later call to the endpoint can succeed until the
user acts, so the batch says it once and stops: calls already in flight fail at once without a
request, items not started yet are not started. Outside a batch (one image, a test) there is no
switch and each call reports its own error. The batch holds its switch in its resources
(``RunResources.stop``), which each model call receives.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("autorust.batch")


class BatchStop:
    def __init__(self) -> None:
        self.reason: str | None = None
        self._lock = threading.Lock()

    def trip(self, reason: str) -> None:
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        log.error(
            f"batch stopped: {reason}. Items not finished are left for a rerun "
            "(autorust run retries them) once this is fixed.",
            extra={"status": "error"},
        )
