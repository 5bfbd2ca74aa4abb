#!/usr/bin/env bash
# swarmkv vs llama.cpp on the same GGUF, same machine, same minute: for each thread count, runs
# `swarmkv bench` and `llama-bench` back to back (pp<P> and tg<N>, -r reps each) and records the
# load average before each run, because on a shared box the load decides the numbers.
# Optionally a second swarmkv binary (BASE=path) runs too, as the in-run baseline.
# Output: one JSON object per line: {"tool","threads","test","tps","sd","load"}.
#
# Usage: bench/engine/side_by_side.sh MODEL.gguf [threads...]    (default threads: 1 2)
#   SWARMKV=build/swarmkv LLAMA_BENCH=/work/llamacpp/build/bin/llama-bench BASE= P=512 N=128 R=3
set -euo pipefail
model=$1; shift
threads=${*:-1 2}
swarmkv=${SWARMKV:-build/swarmkv}
llama=${LLAMA_BENCH:-/work/llamacpp/build/bin/llama-bench}
P=${P:-512}; N=${N:-128}; R=${R:-3}
load() { cut -d' ' -f1 /proc/loadavg; }
run_swarmkv() {  # tool-name binary threads
  local l; l=$(load)
  "$2" bench -m "$model" -p "$P" -n "$N" -t "$3" -r "$R" --json 2>/dev/null |
    python3 -c 'import json,sys
txt=sys.stdin.read(); j=json.loads(txt[txt.index("["):] if "[" in txt else txt)
for r in (j if isinstance(j,list) else j.get("results",[])):
    print(json.dumps({"tool":sys.argv[1],"threads":int(sys.argv[2]),"test":r["test"],"tps":r.get("avg_ts",r.get("mean")),"sd":r.get("stddev_ts",r.get("sd")),"load":float(sys.argv[3])}))' "$1" "$3" "$l"
}
run_llama() {
  local l; l=$(load)
  "$llama" -m "$model" -p "$P" -n "$N" -t "$1" -r "$R" -o json 2>/dev/null |
    python3 -c 'import json,sys
for r in json.load(sys.stdin):
    t=("pp%d"%r["n_prompt"]) if r["n_gen"]==0 else ("tg%d"%r["n_gen"])
    print(json.dumps({"tool":"llama.cpp","threads":r["n_threads"],"test":t,"tps":r["avg_ts"],"sd":r["stddev_ts"],"load":float(sys.argv[1])}))' "$l"
}
for t in $threads; do
  run_swarmkv swarmkv "$swarmkv" "$t"
  [[ -n "${BASE:-}" ]] && run_swarmkv swarmkv-base "$BASE" "$t"
  run_llama "$t"
done
