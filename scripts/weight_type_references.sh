#!/usr/bin/env bash
# Parity references for issue 18's weight types: for each type, `swarmkv make-model --shape
# tiny-k --type T --seed 18` (every 2-D weight in T, rows of 256), then llama.cpp's llama-server
# teacher-forces three fixed token-id prompts and continuations (scripts/llamacpp_teacher_forced.py:
# one request per step, -fa, -ub 1, one thread, top-5 log-probs) into
# BUILD/llamacpp-reference-ISA/tiny-k-T.json, which tests/engine/weight_types_test.cc compares
# against (it regenerates the same model itself; make-model is deterministic). ISA names the
# llama.cpp build and is written into the directory (scripts/llamacpp_reference_dir.sh): avx2 by
# default, the order swarmkv's kernels follow. Output stays in the build tree, never committed.
#
# Usage: scripts/weight_type_references.sh [BUILD_DIR] [TYPES...]
#   env LLAMA_ISA (avx2 | avx512; default avx2), LLAMA_SERVER (default
#   /work/wt/h13-llamacpp/build-$LLAMA_ISA/bin/llama-server)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
shift || true
types=("$@")
[ ${#types[@]} -eq 0 ] && types=(q4_K q5_K q6_K q4_1 q5_1 q2_K q3_K iq4_nl iq4_xs mxfp4)
export FLASH_ATTN=${FLASH_ATTN:-on}
# ggml-cpu repacks Q4_K/Q2_K/Q5_K/Q6_K/IQ4_NL into interleaved layouts whose kernels sum in another
# order than vec_dot (the order swarmkv follows); LLAMA_EXTRA_ARGS= compares with the repacked path.
export LLAMA_EXTRA_ARGS=${LLAMA_EXTRA_ARGS---no-repack}
# shellcheck source=llamacpp_reference_dir.sh
source "$root/scripts/llamacpp_reference_dir.sh" "$build"  # LLAMA_ISA, LLAMA_SERVER, ref_dir
out=$ref_dir
models=$build/weight-type-models
mkdir -p "$models"
cases=$models/cases.json
python3 - "$cases" <<'PY'
import json, sys
import random
rng = random.Random(18)
prompts = [[1, 300, 512, 77, 1024, 2048, 9, 4000], [5, 6, 7, 8, 900, 901, 902, 903, 3000, 12, 13, 14, 15, 16, 17, 18],
           [2, 4095, 256, 1000, 333]]
# Fixed continuations (random ids among the merged tokens): teacher forcing needs no greedy text.
json.dump({"cases": [{"prompt": f"ids {i}", "prompt_tokens": p, "tokens": [rng.randrange(300, 4000) for _ in range(32)]}
                     for i, p in enumerate(prompts)]}, open(sys.argv[1], "w"))
PY
for t in "${types[@]}"; do
  m=$models/tiny-k-$t.gguf
  "$build/swarmkv" make-model --shape tiny-k --type "$t" --seed 18 -o "$m" >/dev/null
  "$root/scripts/llamacpp_teacher_forced.py" "$cases" "$m" "$out/tiny-k-$t.json"
  echo "wrote $out/tiny-k-$t.json"
done
