// JinjaLimits: the sandbox bounds of one template render (a hostile template or input cannot make
// a render loop, recurse or allocate without bound). Plain value.
#pragma once

#include <cstdint>

namespace swarmkv {

struct JinjaLimits {
  int64_t max_loop_iterations = 1'000'000;  // summed over every for loop of one render
  int32_t max_call_depth = 64;               // nested macro calls / call blocks
  // Nesting while parsing and evaluating (statements inside recursive macros count too). Real
  // chat templates nest about a dozen levels; each level costs a few KiB of stack (several times
  // that in sanitizer builds), and a render runs on an HTTP worker's 8 MiB stack.
  int32_t max_expression_depth = 64;
  int64_t max_output_bytes = 16 << 20;       // the rendered text and any single string value
  int64_t max_steps = 20'000'000;            // evaluation steps (nodes visited)
};

}  // namespace swarmkv
