#!/usr/bin/env bash
# Issue 19: makes the synthetic Mamba-2 models (mamba2, granitehybrid; tiny shapes and real ones
# cut to a few layers) into BUILD/arch-models and a llama.cpp parity reference for each into
# BUILD/llamacpp-reference (greedy ids + top-5 log-probs, teacher-forced by
# tests/engine/mamba2_test.cc). Nothing here is committed; rerun after changing the shapes or
# the llama.cpp build.
#   scripts/ssm_references.sh [BUILD]   env LLAMA_SERVER (default: the lead's AVX-512 build),
#     SSM_FILTER (space-separated regexes of names), TYPE (force one weight type)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
export LLAMA_SERVER=${LLAMA_SERVER:-/work/wt/h13-llamacpp/build-avx512/bin/llama-server}
mkdir -p "$build/arch-models" "$build/llamacpp-reference"
# name|weight type|make-model arguments (as scripts/arch_references.sh: tiny in Q8_0, real in F16).
models=(
  "tiny-mamba2|q8_0|--shape tiny-mamba2"
  "mamba2-130m-2l|f16|--arch mamba2 --layers 2"
  "tiny-granitehybrid|q8_0|--shape tiny-granitehybrid"
  "granite-4.0-h-350m-4l|f16|--arch granitehybrid --layers 4"
)
for entry in "${models[@]}"; do
  IFS='|' read -r name type args <<< "$entry"
  for filter in ${SSM_FILTER:-.}; do
    if [[ $name =~ $filter ]]; then
      # shellcheck disable=SC2086
      "$build/swarmkv" make-model $args --type "${TYPE:-$type}" -o "$build/arch-models/$name.gguf"
      "$root/scripts/llamacpp_reference.py" "$root/tests/engine/arch_prompts.json" \
        "$build/arch-models/$name.gguf" "$build/llamacpp-reference/$name.json"
      echo "reference: $build/llamacpp-reference/$name.json"
      break
    fi
  done
done
