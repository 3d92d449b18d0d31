"""Deployable entry point of the autorust code-execution Cloud Function.

Thin on purpose: the function lives in ``autorust.sandbox.cloud_function.server``.
Run locally:  functions-framework --target execute --source cloud_function/main.py --port 8080
Deploy:       see docs/sandbox.md (``scripts/package_cloud_function.sh`` stages the source).
"""

from autorust.sandbox.cloud_function.server import execute

__all__ = ["execute"]
