"""The one redaction path: every string that may reach state, checkpoints, logs, reports,
result files or an exception message passes ``redact``.

Removed: the values of secret-looking environment variables (API keys, tokens, passwords),
the values of ``Authorization`` / ``Proxy-Authorization`` / ``api-key`` / ``x-api-key``
headers however they are quoted (an error body may echo the request's headers), bearer tokens
and ``sk-...`` shaped keys.
"""

from __future__ import annotations

import os
import re

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
PLACEHOLDER = "[REDACTED]"
HEADER_VALUE = re.compile(
    r"(?P<name>\b(?:proxy-)?authorization|\bx-api-key|\bapi[-_]key)"
    r"(?P<sep>\\?['\"]?\s*[:=]\s*\\?['\"]?)"
    r"(?:(?:bearer|basic|token)\s+)?[^'\"\s,;}\\]+",
    re.IGNORECASE,
)
SECRET_SHAPES = re.compile(r"sk-[A-Za-z0-9_\-]{6,}|\b(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{4,}")


def secret_values() -> list[str]:
    """Secret environment values, longest first (so a key containing another goes first)."""
    return sorted(
        (v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= 6),
        key=len,
        reverse=True,
    )


def redact(text: str) -> str:
    for value in secret_values():
        text = text.replace(value, PLACEHOLDER)
    text = HEADER_VALUE.sub(lambda m: f"{m['name']}{m['sep']}{PLACEHOLDER}", text)
    return SECRET_SHAPES.sub(PLACEHOLDER, text)
