#!/usr/bin/env bash
# The kernel levels of one binary side by side, interleaved (A B A B ...) so a shared box's load
# hits both alike: `swarmkv bench` with SWARMKV_KERNELS=each level, ROUNDS rounds, the load
# average recorded before each run. Optionally other binaries (BINS="name=path ...") in the same
# rounds, e.g. main's build as the before-figure or a Release build beside RelWithDebInfo.
# Output: one JSON object per line: {"tool","kernels","test","tps","load"}.
#
# Usage: bench/engine/isa_ab.sh MODEL.gguf
#   SWARMKV=build/swarmkv LEVELS="avx2 avx512" BINS= T=2 P=512 N=128 ROUNDS=3
set -euo pipefail
model=$1
swarmkv=${SWARMKV:-build/swarmkv}
levels=${LEVELS:-avx2 avx512}
T=${T:-2}; P=${P:-512}; N=${N:-128}; ROUNDS=${ROUNDS:-3}
load() { cut -d' ' -f1 /proc/loadavg; }
run() {  # tool binary level
  local l; l=$(load)
  SWARMKV_KERNELS=$3 "$2" bench -m "$model" -p "$P" -n "$N" -t "$T" -r 1 --json 2>/dev/null |
    python3 -c 'import json,sys
txt=sys.stdin.read(); j=json.loads(txt[txt.index("["):] if "[" in txt else txt)
for r in (j if isinstance(j,list) else j.get("results",[])):
    o={"tool":sys.argv[1],"kernels":sys.argv[2],"test":r["test"],"tps":r.get("avg_ts",r.get("mean")),"load":float(sys.argv[3])}
    for k in ("read_bw_fraction","bytes_per_token","read_bw_gbps"):
        if k in r: o[k]=r[k]
    print(json.dumps(o))' "$1" "$3" "$l"
}
for ((i = 0; i < ROUNDS; ++i)); do
  for level in $levels; do
    run swarmkv "$swarmkv" "$level"
    for b in ${BINS:-}; do run "${b%%=*}" "${b#*=}" "$level"; done
  done
done
