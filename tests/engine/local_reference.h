// Where the llama.cpp parity references made on this machine are, and which llama.cpp build made
// each (scripts/arch_references.sh, weight_type_references.sh; never committed).
//
// The scripts write BUILD/llamacpp-reference-ISA/NAME.json, ISA naming the llama.cpp build
// (avx2: ggml's AVX2 order, the one swarmkv's kernels follow, so the tight tolerances apply;
// avx512: its float dots and f16 attention sum in another order, the loose ones), and the
// directory's file `llamacpp-isa` says so on its first line. A directory without that file
// (BUILD/llamacpp-reference, written before the scripts learned the ISA, or by hand with
// scripts/llamacpp_reference.py) is of an unknown build and held to the loose tolerances.
//
// Invariant: a LocalReference's path existed when it was found; its isa is the directory's word.
// Thread-safety: plain functions over the file system; no shared state.
#pragma once

#include <string>
#include <vector>

namespace swarmkv::testing {

struct LocalReference {
  std::string path;  // the reference JSON
  std::string isa;   // "avx2", "avx512", another build's name, or "unknown"
  bool avx2() const { return isa == "avx2"; }
};

// Every reference `file_name` (e.g. "tiny-gemma3.json") present: in $SWARMKV_LOCAL_REFERENCE_DIR
// alone when that is set, else in default_dir + "-avx2", default_dir + "-avx512" and default_dir
// (in that order). Empty when there is none.
std::vector<LocalReference> FindLocalReferences(const std::string& default_dir, const std::string& file_name);

// A synthetic model of scripts/arch_references.sh and its references: <models_dir>/<name>.gguf
// and every <name>.json FindLocalReferences finds. `skip` says why a test cannot run ("" when
// there is at least one reference and the model file exists).
struct ArchReference {
  std::string model;
  std::vector<LocalReference> refs;
  std::string skip;
};
ArchReference FindArchReference(const std::string& reference_dir_default, const std::string& models_dir,
                                const std::string& name);

// The message a test skips with when FindLocalReferences found nothing.
std::string NoLocalReferenceMessage(const std::string& default_dir, const std::string& file_name,
                                    const std::string& script);

}  // namespace swarmkv::testing
