#!/usr/bin/env python3
"""Compares two parity references (../shared/reference's JSON format) with the parity test's
metric: per teacher-forced step, the largest |log-prob difference| over the tokens both list,
counted while both continuations agree; steps over 1e-3 are counted. Also reports, within the
first file, contexts reached twice (e.g. as a prompt and as decode steps) whose log-probs differ:
llama.cpp computes prompt rows and decode rows in different summation orders.

Usage: scripts/compare_references.py A.json B.json
(e.g. ../shared/reference/stories260K.json build/llamacpp-reference-ub512/stories260K.json:
 how far this machine's llama.cpp is from the shared reference.)
"""
import json
import sys


def top(step):
    return {t: lp for t, lp in step}


def compare(a, b):
    worst, over, steps = 0.0, 0, 0
    for ca, cb in zip(a["cases"], b["cases"]):
        for i, (sa, sb) in enumerate(zip(ca["top_logprobs"], cb["top_logprobs"])):
            if ca["tokens"][:i] != cb["tokens"][:i]:
                break
            ta, tb = top(sa), top(sb)
            d = max([abs(ta[t] - tb[t]) for t in ta if t in tb] or [0.0])
            worst, over, steps = max(worst, d), over + (d > 1e-3), steps + 1
    return worst, over, steps


def self_consistency(a):
    seen, worst = {}, 0.0
    for c in a["cases"]:
        for i, step in enumerate(c["top_logprobs"]):
            key = tuple(c["prompt_tokens"] + c["tokens"][:i])
            if key in seen:
                t0, t1 = seen[key], top(step)
                worst = max([worst] + [abs(t0[t] - t1[t]) for t in t0 if t in t1])
            else:
                seen[key] = top(step)
    return worst


def main():
    a, b = (json.load(open(p)) for p in sys.argv[1:3])
    worst, over, steps = compare(a, b)
    print(f"{steps} steps compared, max |log-prob diff| {worst:.3g}, {over} steps over 1e-3")
    print(f"same context twice within {sys.argv[1]}: max diff {self_consistency(a):.3g}")


if __name__ == "__main__":
    main()
