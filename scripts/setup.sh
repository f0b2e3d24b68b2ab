#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test Tollgate. Idempotent:
# it installs only what is missing.
#   cmake, libclang   llama.cpp is built from source by the llama-cpp-2 crate
#   prometheus        the dashboard tests run a real Prometheus (and promtool)
#   python3 openai    the official OpenAI Python SDK is tested against the gateway
set -euo pipefail

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/*/libclang*.so* >/dev/null 2>&1 || missing+=(libclang-dev)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian package starts a system Prometheus on :9090; the tests run their own.
  if command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi

if ! python3 -c "import openai" >/dev/null 2>&1; then
  echo "setup: installing the openai Python SDK" >&2
  python3 -m pip install -q openai 2>/dev/null || python3 -m pip install -q --break-system-packages openai
fi

# The official OpenAI Node SDK, for the SDK tests (Node.js itself comes with the machine).
if command -v npm >/dev/null 2>&1 && [ ! -d tests/sdk/node_modules/openai ]; then
  echo "setup: installing the openai Node SDK" >&2
  (cd "$(dirname "$0")/../tests/sdk" && npm install --no-package-lock --no-audit --no-fund --silent)
fi
