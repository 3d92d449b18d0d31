#!/usr/bin/env bash
# Stage a self-contained source folder for `gcloud functions deploy`: the thin entry point plus
# the sandbox package it runs (autorust.sandbox imports nothing else of autorust).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/cloud_function}"
rm -rf "$out" && mkdir -p "$out/autorust"
cp cloud_function/main.py cloud_function/requirements.txt "$out/"
echo '"""autorust (only the sandbox, staged for the Cloud Function)."""' > "$out/autorust/__init__.py"
cp -r sandbox "$out/autorust/sandbox"
find "$out" -name __pycache__ -prune -exec rm -rf {} +
echo "$out"
