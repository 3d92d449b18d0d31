"""The one redaction path: every string that may reach state, checkpoints, logs, reports,
result files or an exception message passes ``redact``.

Removed: the values of secret-looking environment variables (API keys, tokens, passwords),
``Authorization`` header values, bearer tokens and ``sk-...`` shaped keys.
"""

from __future__ import annotations

import os
import re

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
SECRET_SHAPES = re.compile(
    r"(sk-[A-Za-z0-9_\-]{6,}"
    r"|Bearer\s+[A-Za-z0-9._~+/=\-]+"
    r"|(?<=[Aa]uthorization)(['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+(?:\s+[^'\"\s,}]+)?)"
)
PLACEHOLDER = "[REDACTED]"


def secret_values() -> list[str]:
    """Secret environment values, longest first (so a key containing another goes first)."""
    return sorted(
        (v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= 6),
        key=len,
        reverse=True,
    )


def _shape(match: re.Match[str]) -> str:
    separator = match.group(2)
    return f"{separator}{PLACEHOLDER}" if separator is not None else PLACEHOLDER


def redact(text: str) -> str:
    for value in secret_values():
        text = text.replace(value, PLACEHOLDER)
    return SECRET_SHAPES.sub(_shape, text)
