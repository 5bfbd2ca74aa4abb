#!/usr/bin/env python3
"""Per-token cost of constrained decoding (structured output) against unconstrained decoding.

Starts `swarmkv serve` on MODEL and sends, interleaved, the same generation without a format
(baseline) and with a JSON schema / format "json" (constrained), reading each reply's
eval_duration / eval_count (decode time per generated token; the first token's mask is computed
during prefill and is reported separately as the cold cost). The first constrained request of a
schema pays the mask warm-up (one trie walk per new grammar state); later ones hit the cache.

Output: one JSON object per request, then a summary line {"summary": ...}.
Usage: bench/structured/constrained_overhead.py MODEL.gguf [--swarmkv build/swarmkv] [--reps 5]
       [--tokens 64] [--threads N]
"""
import argparse, json, os, socket, subprocess, sys, time, urllib.request

SCHEMA = {"type": "object",
          "properties": {"name": {"type": "string", "maxLength": 24},
                         "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 8},
                         "score": {"type": "number"}, "ok": {"type": "boolean"}},
          "required": ["name", "tags", "score", "ok"], "additionalProperties": False}


def load():
    return float(open("/proc/loadavg").read().split()[0])


def post(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/generate", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=1800) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--swarmkv", default="build/swarmkv")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    cmd = [a.swarmkv, "serve", "--port", str(port), "--model", "m=" + a.model, "--no-ollama", "--kv-disk", "off"]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    srv = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        base = {"model": "m", "prompt": "Describe an item as JSON.", "raw": True, "stream": False}
        post(port, dict(base, options={"num_predict": 4}))  # load the model
        variants = {"unconstrained": {}, "schema": {"format": SCHEMA}, "json": {"format": "json"}}
        per = {k: [] for k in variants}
        for rep in range(a.reps):
            for name, extra in variants.items():
                l = load()
                r = post(port, dict(base, **extra, options={"num_predict": a.tokens, "temperature": 0.8, "seed": rep,
                                                           "repeat_penalty": 1.0}))
                n = r["eval_count"]
                ms = r["eval_duration"] / 1e6 / max(n - 1, 1)  # decode steps after the first token
                first_ms = r["prompt_eval_duration"] / 1e6
                row = {"variant": name, "rep": rep, "tokens": n, "ms_per_token": round(ms, 3),
                       "prefill_and_first_token_ms": round(first_ms, 2), "load": l}
                print(json.dumps(row), flush=True)
                if n > 2:
                    per[name].append(ms)
        med = {k: sorted(v)[len(v) // 2] if v else None for k, v in per.items()}
        # Warm: repetitions after the first (the first constrained one of each schema warms the masks).
        warm = {k: (sorted(v[1:])[len(v[1:]) // 2] if len(v) > 1 else None) for k, v in per.items()}
        summary = {"median_ms_per_token": med, "warm_median_ms_per_token": warm}
        if warm["unconstrained"]:
            for k in ("schema", "json"):
                if warm[k]:
                    summary[f"overhead_pct_{k}"] = round(100 * (warm[k] / warm["unconstrained"] - 1), 1)
        summary["load_end"] = load()
        print(json.dumps({"summary": summary}), flush=True)
    finally:
        srv.terminate()
        srv.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
