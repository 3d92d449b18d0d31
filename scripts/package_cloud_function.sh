#!/usr/bin/env bash
# Stage a self-contained source folder for `gcloud functions deploy`: the function plus the
# two sandbox modules it shares with the local backend (no copies are kept in the repo).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/cloud_function}"
rm -rf "$out" && mkdir -p "$out/sandbox"
cp cloud_function/main.py cloud_function/requirements.txt "$out/"
cp sandbox/base.py sandbox/process.py sandbox/subprocess_executor.py "$out/sandbox/"
touch "$out/sandbox/__init__.py"
echo "$out"
