#!/usr/bin/env bash
# Makes the synthetic model of every dense architecture swarmkv runs beyond llama/qwen (tiny
# shapes and real shapes cut to a few layers) into BUILD/arch-models, and a llama.cpp parity
# reference for each into BUILD/llamacpp-reference (greedy ids + top-5 log-probs, teacher-forced
# by tests/engine/arch_parity_test.cc). Nothing here is committed; rerun after changing the
# synthetic shapes or the llama.cpp build.
#   scripts/arch_references.sh [BUILD]   env LLAMA_SERVER (default: the lead's AVX-512 build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
export LLAMA_SERVER=${LLAMA_SERVER:-/work/wt/h13-llamacpp/build-avx512/bin/llama-server}
mkdir -p "$build/arch-models" "$build/llamacpp-reference"
# name  make-model arguments
models=(
  "tiny-granite|--shape tiny-granite"
  "tiny-olmo2|--shape tiny-olmo2"
  "tiny-phi3|--shape tiny-phi3"
  "tiny-gemma2|--shape tiny-gemma2"
  "tiny-gemma3|--shape tiny-gemma3"
  "granite-3.3-2b-2l|--arch granite --layers 2"
  "olmo2-1b-2l|--arch olmo2 --layers 2"
  "phi-3.5-mini-2l|--arch phi3 --layers 2"
  "gemma2-2b-2l|--arch gemma2 --layers 2"
  "gemma3-1b-6l|--arch gemma3 --layers 6"
  "gemma3-270m-6l|--shape gemma3-270m --layers 6"
)
for entry in "${models[@]}"; do
  name=${entry%%|*}
  args=${entry#*|}
  for filter in ${ARCH_FILTER:-.}; do
    if [[ $name =~ $filter ]]; then
      # shellcheck disable=SC2086
      "$build/swarmkv" make-model $args --type "${TYPE:-q8_0}" -o "$build/arch-models/$name.gguf"
      "$root/scripts/llamacpp_reference.py" "$root/tests/engine/arch_prompts.json" \
        "$build/arch-models/$name.gguf" "$build/llamacpp-reference/$name.json"
      echo "reference: $build/llamacpp-reference/$name.json"
      break
    fi
  done
done
