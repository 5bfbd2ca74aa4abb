#!/usr/bin/env python3
"""Regenerates a parity reference with a local llama.cpp build, in ../shared/reference's format.

The shared reference came from an AVX-512 llama.cpp; its float (F16/F32 weight) dots sum in
another order than any AVX2 build (docs/kernels.md, "Parity"). This makes the same JSON from
the llama-server of the machine at hand (greedy, top_k = 1, flash attention on, context 2048,
5 log-probabilities per step, prompt cache off, one thread), for the same prompt token ids and
lengths, so tests/engine/parity_test.cc can hold the engine to 1e-3 against that llama.cpp
(BUILD/llamacpp-reference-ISA, ISA naming the llama.cpp build — tests/engine/local_reference.h —
or SWARMKV_LOCAL_REFERENCE_DIR). Output goes to the build tree; it is never committed.
Regenerate after changing the llama.cpp build (here its AVX2 build):
  d=build/llamacpp-reference-avx2; mkdir -p $d && echo avx2 > $d/llamacpp-isa && \
  for m in stories260K TinyStories-656K.f16 tinystories-656k-q8_0; do \
    LLAMA_SERVER=/work/wt/h13-llamacpp/build-avx2/bin/llama-server scripts/llamacpp_reference.py \
    ../shared/reference/$m.json ../shared/models/$m.gguf $d/$m.json; done

For the synthetic models of the other architectures (issue 18), REFERENCE.json may hold cases
with a prompt text and no prompt_tokens (tests/engine/arch_prompts.json): the prompt is then
tokenized by the llama-server itself. scripts/arch_references.sh runs it for every family.

Usage: scripts/llamacpp_reference.py REFERENCE.json MODEL.gguf OUT.json
  env LLAMA_SERVER (default /work/llamacpp/build/bin/llama-server), PORT (default: a free one),
      CTX (default 2048: the context, which also picks phi3's LongRoPE factors),
      UBATCH (default 1: -ub 1, every prompt token through llama.cpp alone, so every matmul
      takes ggml's vec_dot path as decode does; UBATCH= for llama.cpp's default, whose prompt
      rows go through tinyBLAS, another summation order — see tests/engine/parity_test.cc),
      FLASH_ATTN (default "on", as newer builds take it; empty: a bare -fa, as older builds do)
"""
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request


def gguf_tokens(path):
    """tokenizer.ggml.tokens and token_type of a GGUF file (a minimal metadata reader)."""
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    out = {}
    with open(path, "rb") as f:
        def u32():
            return struct.unpack("<I", f.read(4))[0]

        def u64():
            return struct.unpack("<Q", f.read(8))[0]

        def string():
            return f.read(u64()).decode("utf-8", "replace")

        def value(t):
            if t == 8:
                return string()
            if t == 9:
                et, n = u32(), u64()
                if et == 8:
                    return [string() for _ in range(n)]
                if et == 5:
                    return list(struct.unpack("<%di" % n, f.read(4 * n)))
                f.seek(sizes[et] * n, 1)
                return None
            f.seek(sizes[t], 1)
            return None

        if f.read(4) != b"GGUF":
            sys.exit(path + " is not a GGUF file")
        u32()
        u64()
        for _ in range(u64()):
            key = string()
            v = value(u32())
            if key in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type"):
                out[key] = v
    return out.get("tokenizer.ggml.tokens", []), out.get("tokenizer.ggml.token_type", [])


def gpt2_byte_decoder():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def unprintable_tokens(model):
    """Ids llama-server cannot return as text: byte-level BPE pieces that are not whole UTF-8 on
    their own (its output parser rejects a reply ending inside a character) and control tokens.
    Random weights generate them as readily as any other; banning them from the sampler leaves
    the reported log-probabilities (raw logits) unchanged."""
    tokens, types = gguf_tokens(model)
    dec = gpt2_byte_decoder()
    banned = []
    for i, t in enumerate(tokens):
        if i < len(types) and types[i] == 3:
            banned.append(i)
            continue
        try:
            bytes(dec[c] for c in t).decode("utf-8")
        except (KeyError, UnicodeDecodeError):
            banned.append(i)
    return banned


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.load(r)


def wait_ready(port, proc):
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit("llama-server exited early")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.2)
    sys.exit("llama-server did not become ready")


def main():
    ref_path, model, out_path = sys.argv[1:4]
    ref = json.load(open(ref_path))
    server = os.environ.get("LLAMA_SERVER", "/work/llamacpp/build/bin/llama-server")
    port = int(os.environ.get("PORT", "0"))
    if port == 0:  # a free port
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    ubatch = os.environ.get("UBATCH", "1")  # "": llama.cpp's default micro-batch (512)
    extra = ["-ub", ubatch] if ubatch else []
    fa = ["-fa", os.environ.get("FLASH_ATTN", "on")]  # "on" for newer builds; FLASH_ATTN= for a bare -fa
    if fa[1] == "":
        fa = ["-fa"]
    if os.environ.get("KV_TYPE"):  # e.g. f32: -ctk/-ctv (default f16, llama.cpp's)
        extra += ["-ctk", os.environ["KV_TYPE"], "-ctv", os.environ["KV_TYPE"]]
    ctx = os.environ.get("CTX", "2048")
    proc = subprocess.Popen([server, "-m", model, "-c", ctx] + fa + ["-np", "1", "-t", "1",
                             "--port", str(port), "--host", "127.0.0.1"] + extra,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, proc)
        cases = []
        # Synthetic models (prompts given as text) may generate unprintable pieces; see above.
        bias = [[i, False] for i in unprintable_tokens(model)] if any(
            "prompt_tokens" not in c for c in ref["cases"]) else []
        for c in ref["cases"]:
            if "prompt_tokens" not in c:
                c["prompt_tokens"] = post(port, "/tokenize", {"content": c["prompt"], "add_special": False})["tokens"]
            r = post(port, "/completion", {
                "prompt": c["prompt_tokens"], "n_predict": c["n_predict"], "n_probs": 5,
                "top_k": 1, "temperature": 0, "cache_prompt": False, "seed": 0, "logit_bias": bias})
            probs = r["completion_probabilities"]
            cases.append({
                "prompt": c["prompt"], "prompt_tokens": c["prompt_tokens"], "n_predict": c["n_predict"],
                "tokens": [p["id"] for p in probs], "content": r["content"],
                "stop_type": r.get("stop_type", ""),
                "top_logprobs": [[[t["id"], t["logprob"]] for t in p["top_logprobs"]] for p in probs],
            })
        out = {"model": os.path.basename(model),
               "generator": "local llama.cpp llama-server (" + server + "), greedy (top_k=1), -fa, CPU" +
                            (", -ub " + ubatch if ubatch else ""),
               "cases": cases}
        json.dump(out, open(out_path, "w"))
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
