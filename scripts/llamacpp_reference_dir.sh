# Sourced by scripts/arch_references.sh and scripts/weight_type_references.sh: picks the llama.cpp
# build the references come from and the directory they go to, which says which build made them.
#   source scripts/llamacpp_reference_dir.sh BUILD
# env LLAMA_ISA: avx2 (default; ggml's AVX2 order, the one swarmkv's kernels follow — the parity
#   oracle) or avx512 (or another name for another build: tests hold such references to the
#   loose tolerances). LLAMA_SERVER: default /work/wt/h13-llamacpp/build-$LLAMA_ISA/bin/llama-server
#   (/work/shared/tools/build-llamacpp.sh GIT_DIR /work/wt/h13-llamacpp $LLAMA_ISA builds it).
# Sets and exports LLAMA_ISA, LLAMA_SERVER, LD_LIBRARY_PATH; sets ref_dir =
# BUILD/llamacpp-reference-$LLAMA_ISA, created with a file `llamacpp-isa` whose first line is
# $LLAMA_ISA (tests/engine/local_reference.h reads it) and whose next lines say which server.
export LLAMA_ISA=${LLAMA_ISA:-avx2}
export LLAMA_SERVER=${LLAMA_SERVER:-/work/wt/h13-llamacpp/build-$LLAMA_ISA/bin/llama-server}
if [[ ! -x $LLAMA_SERVER ]]; then
  echo "no llama-server at $LLAMA_SERVER: build it with /work/shared/tools/build-llamacpp.sh" \
       "GIT_DIR /work/wt/h13-llamacpp $LLAMA_ISA, or set LLAMA_SERVER (and LLAMA_ISA)" >&2
  exit 1
fi
export LD_LIBRARY_PATH=$(dirname "$LLAMA_SERVER")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
ref_dir=$(cd "$1" && pwd)/llamacpp-reference-$LLAMA_ISA
mkdir -p "$ref_dir"
{
  echo "$LLAMA_ISA"
  echo "llama-server: $LLAMA_SERVER"
  "$LLAMA_SERVER" --version 2>&1 | grep -i -E "version|built" | head -2 || true
} > "$ref_dir/llamacpp-isa"
