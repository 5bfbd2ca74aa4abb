#!/usr/bin/env bash
# Makes the synthetic model of every architecture swarmkv runs beyond llama/qwen (tiny
# shapes and real shapes cut to a few layers) into BUILD/arch-models, and a llama.cpp parity
# reference for each into BUILD/llamacpp-reference-ISA (greedy ids + top-5 log-probs,
# teacher-forced by tests/engine/arch_test.cc, hybrid_test.cc, mamba2_test.cc and
# granitehybrid_test.cc). ISA names the llama.cpp build (scripts/llamacpp_reference_dir.sh
# writes it into the directory's `llamacpp-isa`, which the tests read to pick their tolerance):
# avx2 (the default: ggml's AVX2 order is the one swarmkv's kernels follow) or avx512.
# Nothing here is committed; rerun after changing the synthetic shapes or the llama.cpp build.
#   scripts/arch_references.sh [BUILD]   env LLAMA_ISA (avx2 | avx512; default avx2),
#     LLAMA_SERVER (default /work/wt/h13-llamacpp/build-$LLAMA_ISA/bin/llama-server, built by
#     /work/shared/tools/build-llamacpp.sh GIT_DIR /work/wt/h13-llamacpp $LLAMA_ISA),
#     ARCH_FILTER (space-separated regexes of names), TYPE (force one weight type)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
# shellcheck source=llamacpp_reference_dir.sh
source "$root/scripts/llamacpp_reference_dir.sh" "$build"  # LLAMA_ISA, LLAMA_SERVER, ref_dir
mkdir -p "$build/arch-models"
# name|weight type|make-model arguments. The tiny shapes use Q8_0 (llama.cpp's integer dots are
# the same on every x86 ISA, so they compare the architecture, not the summation order); the
# real shapes F16, the type they ship in (their Q8_0 dots over 2k-3k columns sum in another
# float order on an AVX-512 llama.cpp, further from us than its F16 ones). qwen3-30b-a3b keeps
# its real widths and top-8 but 32 of its 128 experts (a 1.9 GB file instead of 3.7 GB);
# gpt-oss-20b its real widths and top-4 but 8 of its 32 experts (MXFP4 experts at every type).
models=(
  "tiny-granite|q8_0|--shape tiny-granite"
  "tiny-olmo2|q8_0|--shape tiny-olmo2"
  "tiny-phi3|q8_0|--shape tiny-phi3"
  "tiny-gemma2|q8_0|--shape tiny-gemma2"
  "tiny-gemma3|q8_0|--shape tiny-gemma3"
  "granite-3.3-2b-2l|f16|--arch granite --layers 2"
  "olmo2-1b-2l|f16|--arch olmo2 --layers 2"
  "phi-3.5-mini-2l|f16|--arch phi3 --layers 2"
  "gemma2-2b-2l|f16|--arch gemma2 --layers 2"
  "gemma3-1b-6l|f16|--arch gemma3 --layers 6"
  "gemma3-270m-6l|f16|--shape gemma3-270m --layers 6"
  "tiny-lfm2|q8_0|--shape tiny-lfm2"
  "lfm2-350m-6l|f16|--arch lfm2 --layers 6"
  "tiny-qwen3moe|q8_0|--shape tiny-qwen3moe"
  "qwen3-30b-a3b-2l-32e|f16|--arch qwen3moe --layers 2 --experts 32"
  "tiny-gpt-oss|q8_0|--shape tiny-gpt-oss"
  "gpt-oss-20b-2l-8e|f16|--arch gpt-oss --layers 2 --experts 8"
  "tiny-mamba2|q8_0|--shape tiny-mamba2"
  "mamba2-130m-2l|f16|--arch mamba2 --layers 2"
  "tiny-granitehybrid|q8_0|--shape tiny-granitehybrid"
  "granite-4.0-h-350m-4l|f16|--arch granitehybrid --layers 4"
)
for entry in "${models[@]}"; do
  IFS='|' read -r name type args <<< "$entry"
  for filter in ${ARCH_FILTER:-.}; do
    if [[ $name =~ $filter ]]; then
      # shellcheck disable=SC2086
      "$build/swarmkv" make-model $args --type "${TYPE:-$type}" -o "$build/arch-models/$name.gguf"
      "$root/scripts/llamacpp_reference.py" "$root/tests/engine/arch_prompts.json" \
        "$build/arch-models/$name.gguf" "$ref_dir/$name.json"
      echo "reference: $ref_dir/$name.json"
      break
    fi
  done
done
