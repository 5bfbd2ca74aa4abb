#!/usr/bin/env bash
# Quick start's first command: builds swarmkv (installing missing Debian packages) and runs the
# swarm demo — ten agents over the HTTP API sharing one 8k-token context, with prefix sharing vs
# without, then a restart served from the disk tier — on the built-in synthetic model (generated
# on first run): SmolLM2-135M's vocabulary and attention with 6 of its 30 layers, so the
# no-sharing baseline (10 x 8k tokens recomputed) fits in minutes on 2 cores. The full
# SmolLM2-135M shape is `--shape smollm2-135m`. Extra arguments go to `swarmkv swarm-bench`, e.g.
#   ./scripts/demo.sh --agents 4 --prefix-tokens 4096 --model ~/models/qwen2.5-0.5b-q8_0.gguf
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
echo "== building swarmkv" >&2
BUILD_DIR="$root/build" NINJA_TARGETS=swarmkv "$root/scripts/build.sh" >/dev/null
out="$root/swarm-bench-out/$(date +%Y%m%d-%H%M%S)"
echo "== swarm demo (output in $out)" >&2
shape=(--shape smollm2-demo)
for a in "$@"; do [[ $a == --model* || $a == --shape* ]] && shape=(); done
exec "$root/build/swarmkv" swarm-bench --out "$out" "${shape[@]}" "$@"
