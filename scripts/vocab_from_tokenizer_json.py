#!/usr/bin/env python3
"""Writes a vocabulary-only GGUF from a Hugging Face byte-level BPE `tokenizer.json`.

llama.cpp's tokenizer test vectors for Llama 3 (`llama-bpe`) and Qwen (`qwen2`) ship without their
vocabularies (../shared/llamacpp-data/vocab-texts/README.md). This rebuilds such a vocabulary the
way llama.cpp's converter does for `tokenizer.ggml.model = gpt2`, so the vectors can be checked:
- tokens by id; ids missing from the file (padding of the embedding) become `[PAD<id>]`, UNUSED;
- token types: NORMAL, or for added tokens CONTROL when `special` (or when the text looks special:
  `<|...|>`, `<｜...｜>`), else USER_DEFINED;
- merges as "left right" strings, in rank order;
- the pre-tokenizer name given (`--pre`), and bos/eos ids from tokenizer_config.json when given.
The output is test data for the build tree, never committed.

Usage: vocab_from_tokenizer_json.py TOKENIZER.json OUT.gguf --pre NAME --arch ARCH
                                    [--config tokenizer_config.json]
"""
import argparse
import json
import struct
import sys

# GGUF value types (gguf.md).
UINT32, INT32, BOOL, STRING, ARRAY = 4, 5, 7, 8, 9
NORMAL, CONTROL, USER_DEFINED, UNUSED = 1, 3, 4, 5
ALIGNMENT = 32


def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, payload):
    return gguf_string(key) + struct.pack("<I", vtype) + payload


def kv_string(key, value):
    return kv(key, STRING, gguf_string(value))


def kv_u32(key, value):
    return kv(key, UINT32, struct.pack("<I", value))


def kv_bool(key, value):
    return kv(key, BOOL, struct.pack("<?", value))


def kv_string_array(key, values):
    return kv(key, ARRAY, struct.pack("<IQ", STRING, len(values)) + b"".join(gguf_string(v) for v in values))


def kv_i32_array(key, values):
    return kv(key, ARRAY, struct.pack("<IQ", INT32, len(values)) + struct.pack(f"<{len(values)}i", *values))


def looks_special(text):
    return (text.startswith("<|") and text.endswith("|>")) or (text.startswith("<｜") and text.endswith("｜>"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tokenizer_json")
    ap.add_argument("out")
    ap.add_argument("--pre", required=True, help="tokenizer.ggml.pre, e.g. llama-bpe or qwen2")
    ap.add_argument("--arch", required=True, help="general.architecture, e.g. llama or qwen2")
    ap.add_argument("--config", help="tokenizer_config.json (bos/eos tokens)")
    a = ap.parse_args()

    with open(a.tokenizer_json, encoding="utf-8") as f:
        tj = json.load(f)
    model = tj.get("model", {})
    if model.get("type") != "BPE":
        sys.exit(f"{a.tokenizer_json}: model type {model.get('type')!r}, only byte-level BPE is converted")
    by_id = {int(i): t for t, i in model["vocab"].items()}
    added = {int(t["id"]): t for t in tj.get("added_tokens", [])}
    for i, t in added.items():
        by_id[i] = t["content"]
    n = max(by_id) + 1
    tokens, types = [], []
    for i in range(n):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(UNUSED)
        elif i in added:
            tokens.append(by_id[i])
            types.append(CONTROL if added[i].get("special") or looks_special(by_id[i]) else USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]

    ids = {t: i for i, t in enumerate(tokens)}
    kvs = [
        kv_string("general.architecture", a.arch),
        kv_string("general.name", a.pre + " vocabulary from tokenizer.json"),
        kv_string("tokenizer.ggml.model", "gpt2"),
        kv_string("tokenizer.ggml.pre", a.pre),
        kv_string_array("tokenizer.ggml.tokens", tokens),
        kv_i32_array("tokenizer.ggml.token_type", types),
        kv_string_array("tokenizer.ggml.merges", merges),
    ]
    if a.config:
        with open(a.config, encoding="utf-8") as f:
            cfg = json.load(f)

        def text_of(v):
            return v.get("content") if isinstance(v, dict) else v

        for field, key in (("bos_token", "tokenizer.ggml.bos_token_id"), ("eos_token", "tokenizer.ggml.eos_token_id")):
            t = text_of(cfg.get(field))
            if t in ids:
                kvs.append(kv_u32(key, ids[t]))
        if "add_bos_token" in cfg:
            kvs.append(kv_bool("tokenizer.ggml.add_bos_token", bool(cfg["add_bos_token"])))

    header = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs))
    body = header + b"".join(kvs)
    body += b"\0" * (-len(body) % ALIGNMENT)
    with open(a.out, "wb") as f:
        f.write(body)
    print(f"{a.out}: {n} tokens ({sum(t != NORMAL for t in types)} not normal), {len(merges)} merges, pre {a.pre}")


if __name__ == "__main__":
    main()
