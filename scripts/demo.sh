#!/usr/bin/env bash
# Quick start's first command: builds swarmkv (installing missing Debian packages) and runs the
# swarm demo — ten agents over the HTTP API sharing one 4k-token codebase, each in a two-turn tool
# loop (ask, 64-token answer, a 256-token tool result, ask again), with prefix sharing vs without,
# then a restart served from the disk tier — on the built-in synthetic model (generated on first
# run): SmolLM2-135M's vocabulary and attention with 6 of its 30 layers, so the no-sharing baseline
# (every prompt of every turn recomputed) fits in minutes on 2 cores. The demo's sizes are defaults
# an argument overrides; swarm-bench's own defaults are the issue's benchmark (8k context, 4 turns,
# 256-token answers, 512-token tool results; `--shape smollm2-135m` for the full model). Extra
# arguments go to `swarmkv swarm-bench`, e.g.
#   ./scripts/demo.sh --agents 4 --prefix-tokens 8192 --model ~/models/qwen2.5-0.5b-q8_0.gguf
#   ./scripts/demo.sh --llama-server /path/to/llama.cpp/build/bin/llama-server   # adds llama.cpp
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
echo "== building swarmkv" >&2
BUILD_DIR="$root/build" NINJA_TARGETS=swarmkv "$root/scripts/build.sh" >/dev/null
out="$root/swarm-bench-out/$(date +%Y%m%d-%H%M%S)"
echo "== swarm demo (output in $out)" >&2
# The demo's scenario: each default unless the arguments give that option themselves.
defaults=()
given() { local a; for a in "${@:2}"; do [[ $a == "$1" || $a == "$1="* ]] && return 0; done; return 1; }
given --model "$@" || given --shape "$@" || defaults+=(--shape smollm2-demo)
given --prefix-tokens "$@" || defaults+=(--prefix-tokens 4096)
given --turns "$@" || defaults+=(--turns 2)
given --num-predict "$@" || given -n "$@" || defaults+=(--num-predict 64)
given --tool-tokens "$@" || defaults+=(--tool-tokens 256)
exec "$root/build/swarmkv" swarm-bench --out "$out" "${defaults[@]}" "$@"
