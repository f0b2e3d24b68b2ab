#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test Tollgate. Idempotent:
# it installs only what is missing.
#   cmake, make, g++  llama.cpp is built from source by the llama-cpp-2 crate
#   libclang-dev      bindgen (llama-cpp-sys-2) loads libclang.so to read llama.cpp's headers
#   prometheus        the dashboard tests run a real Prometheus (and promtool)
#   python3 openai, anthropic   the official OpenAI and Anthropic Python SDKs are tested
#                     against the gateway
#   npm openai, @anthropic-ai/sdk   the official Node SDKs likewise (tests/sdk)
#   npm claude-code, codex   the coding agents Claude Code and Codex CLI (tests/agents)
#   chromium          the spend page test drives a headless browser (/usr/bin/chromium)
#   npm playwright-core   drives that browser (tests/browser); it downloads no browser
#   redis-server      the shared-mode tests run a real Redis (budgets, rate limits)
#   postgresql        the shared-mode tests run a real PostgreSQL (initdb, postgres) for the
#                     ledger that replicas ship to
#
# Every probe asks for exactly what the build loads or runs, never a loose glob: a machine
# that ships only libclang-cpp.so (the C++ interface, which bindgen cannot use) must still get
# libclang-dev. The probes are functions of a root directory so that tests can run them
# against a made-up file tree (`TOLLGATE_SETUP_SOURCE_ONLY=1 source scripts/setup.sh`).
set -euo pipefail

# True when bindgen's loader (clang-sys) would find libclang under ROOT: it loads exactly
# `libclang.so`, `libclang-N.so` or their versioned forms (`libclang.so.1`, `libclang-14.so.1`),
# from LIBCLANG_PATH or the usual library directories. `libclang-cpp.so.*` is another library.
probe_libclang() {
  local root=${1:-} dir f
  local dirs=()
  [ -n "${LIBCLANG_PATH:-}" ] && dirs+=("$root$LIBCLANG_PATH")
  dirs+=("$root"/usr/lib/llvm-*/lib "$root"/usr/lib/*-linux-gnu "$root"/usr/lib "$root"/usr/lib64 "$root"/usr/local/lib)
  for dir in "${dirs[@]}"; do
    [ -d "$dir" ] || continue
    for f in "$dir"/libclang.so "$dir"/libclang.so.[0-9]* "$dir"/libclang-[0-9]*.so "$dir"/libclang-[0-9]*.so.[0-9]*; do
      [ -e "$f" ] && return 0
    done
  done
  return 1
}

# True when clang's own headers (stddef.h and friends, from libclang-common-N-dev) are under
# ROOT: bindgen fails on llama.cpp's headers without them even when libclang loads.
probe_clang_headers() {
  local root=${1:-} f
  for f in "$root"/usr/lib/llvm-*/lib/clang/*/include/stddef.h "$root"/usr/lib/clang/*/include/stddef.h; do
    [ -e "$f" ] && return 0
  done
  return 1
}

# True when an executable NAME is in one of ROOT's bin directories (or on PATH when ROOT is
# empty). An alias or a shell function does not count: the build runs the program itself.
probe_program() {
  local root=${1:-} name=$2 dir
  if [ -z "$root" ]; then
    [ -n "$(type -P "$name" 2>/dev/null)" ]
    return
  fi
  for dir in "$root"/usr/local/bin "$root"/usr/bin "$root"/bin; do
    [ -x "$dir/$name" ] && return 0
  done
  return 1
}

# True when dpkg records Debian package NAME as fully installed under ROOT. `dpkg -s` alone
# succeeds for a removed package whose config files remain; only the state `installed` counts.
probe_package() {
  local root=${1:-} name=$2 states
  # Read whole before matching: under pipefail, `grep -q` closing a pipe early could fail it.
  states=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${db:Status-Status}\n' "$name" 2>/dev/null) || return 1
  grep -qx installed <<<"$states"
}

# True when PostgreSQL's server programs are under ROOT: the tests run `initdb` and
# `postgres` from the versioned directory Debian installs them in (not on PATH), and `psql`
# alone (postgresql-client) is not a server.
probe_postgres_server() {
  local root=${1:-} dir
  for dir in "$root"/usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ] && return 0
  done
  return 1
}

# The Debian packages ROOT lacks, one per line, each named once.
missing_packages() {
  local root=${1:-}
  {
    probe_program "$root" cmake || echo cmake
    probe_program "$root" make || echo make
    probe_program "$root" c++ || echo g++
    probe_libclang "$root" || echo libclang-dev
    probe_clang_headers "$root" || echo libclang-dev
    probe_program "$root" prometheus || echo prometheus
    probe_program "$root" promtool || echo prometheus
    probe_program "$root" python3 || echo python3
    probe_program "$root" npm || echo npm
    probe_program "$root" curl || echo curl
    { probe_package "$root" chromium && probe_program "$root" chromium; } || echo chromium
    probe_program "$root" redis-server || echo redis-server
    probe_postgres_server "$root" || echo postgresql
  } | awk '!seen[$0]++'
}

install_packages() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing $*" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  # The Debian package starts a system Prometheus on :9090; the tests run their own.
  # Likewise a system Redis on :6379 and PostgreSQL on :5432: the tests start their own on
  # free ports with temporary data directories.
  if command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now prometheus redis-server postgresql >/dev/null 2>&1 || true
  fi
}

main() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  local missing
  mapfile -t missing < <(missing_packages "")
  if ((${#missing[@]})); then
    install_packages "${missing[@]}"
    # Check again: a package that installed but did not provide what the build needs is an
    # error here, not a bindgen panic seven minutes into the build.
    mapfile -t missing < <(missing_packages "")
    if ((${#missing[@]})); then
      echo "setup: still missing after install: ${missing[*]}" >&2
      exit 1
    fi
  fi

  local module
  for module in openai anthropic; do
    if ! python3 -c "import $module" >/dev/null 2>&1; then
      echo "setup: installing the $module Python SDK" >&2
      python3 -m pip install -q "$module" 2>/dev/null || python3 -m pip install -q --break-system-packages "$module"
    fi
  done

  # Each package by the file npm writes for it, so a partly installed folder is completed.
  if [ ! -f tests/sdk/node_modules/openai/package.json ] ||
     [ ! -f tests/sdk/node_modules/@anthropic-ai/sdk/package.json ]; then
    echo "setup: installing the OpenAI and Anthropic Node SDKs" >&2
    (cd tests/sdk && npm install --no-package-lock --no-audit --no-fund --silent)
  fi
  if [ ! -x tests/agents/node_modules/.bin/claude ] || [ ! -x tests/agents/node_modules/.bin/codex ]; then
    echo "setup: installing Claude Code and Codex CLI" >&2
    (cd tests/agents && npm install --no-package-lock --no-audit --no-fund --silent)
  fi
  if [ ! -f tests/browser/node_modules/playwright-core/package.json ]; then
    echo "setup: installing playwright-core (it drives the system's chromium)" >&2
    (cd tests/browser && npm install --no-package-lock --no-audit --no-fund --silent)
  fi
}

if [ -z "${TOLLGATE_SETUP_SOURCE_ONLY:-}" ]; then
  main "$@"
fi
