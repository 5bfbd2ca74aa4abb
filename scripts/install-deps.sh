#!/usr/bin/env bash
# Installs the Debian packages swarmkv needs to build, test and benchmark, if any are missing.
# Idempotent and quiet when everything is present; needs root (apt-get) only when something is not.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates
  clang libclang-rt-14-dev lld  # lld: the faster linker of the test binaries (cmake/swarmkv.cmake)
  libzstd-dev libxxhash-dev libhiredis-dev libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libicu-dev
  libssl-dev  # libcrypto's HMAC-SHA256 for --kv-secret (tiers/entry_mac.h); libssl for rediss:// (tiers/redis_tls.h)
  openssl  # the CLI: the rediss:// tests make a throwaway CA and certificates with it
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server nodejs npm
  tmux  # the interactive `swarmkv run NAME` chat is tested in a real terminal
  python3-jinja2  # the oracle of the chat-template golden test (scripts/render_chat_template.py)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# nodejs from another source may ship npm itself; accept a working npm binary.
if command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if command -v node >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: need root to apt-get install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts redis-server as a service on install; the tests start their own on loopback ports.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
