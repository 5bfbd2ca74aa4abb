#!/usr/bin/env bash
# Quick start's first command: builds swarmkv (installing missing Debian packages) and runs the
# swarm demo — ten agents over the HTTP API sharing one long context, with prefix sharing vs
# without, then a restart served from the disk tier — on the built-in synthetic SmolLM2-135M
# model (generated on first run). Extra arguments go to `swarmkv swarm-bench`, e.g.
#   ./scripts/demo.sh --agents 4 --prefix-tokens 4096 --model ~/models/qwen2.5-0.5b-q8_0.gguf
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
echo "== building swarmkv" >&2
BUILD_DIR="$root/build" NINJA_TARGETS=swarmkv "$root/scripts/build.sh" >/dev/null
out="$root/swarm-bench-out/$(date +%Y%m%d-%H%M%S)"
echo "== swarm demo (output in $out)" >&2
exec "$root/build/swarmkv" swarm-bench --out "$out" "$@"
