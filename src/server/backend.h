// The seam between the HTTP server and the modules below it (model, tokenizer, engine, memory).
//
// The server does not know how weights are loaded, how text becomes tokens or how KV is kept: it
// asks a ServerBackend. The real backend (wired in cli/cmd_serve.cc) composes Model::Load, the
// tokenizer's chat templates, the engine's GenerationService and the memory core's stats/pins.
// A ServerBackend that is absent (nullptr) makes every generation route answer 503 with a clear
// message, while the model registry, /api/tags, /api/show, /api/version and /metrics still work.
//
// Thread-safety: every method may be called from any HTTP worker thread at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "engine/generation.h"
#include "engine/step_stats.h"
#include "structured/json_grammar.h"

namespace swarmkv {

struct ApiToolCall {
  std::string id;                  // OpenAI's call id ("" for Ollama)
  std::string name;
  nlohmann::ordered_json arguments = nlohmann::ordered_json::object();  // an object (as templates want)
};

struct ApiChatMessage {
  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
  std::vector<ApiToolCall> tool_calls;  // assistant turns that called tools
  std::string tool_name;                // role "tool": the function whose result this is
  std::string tool_call_id;             // role "tool" (OpenAI)
  std::string thinking;                 // assistant turns: their reasoning (Ollama thinking)
};

// What a chat prompt carries besides its messages.
struct ChatRenderOptions {
  nlohmann::ordered_json tools;  // null, or [{"type":"function","function":{name, description, parameters}}]
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // template variables: enable_thinking, ...
};

struct LoadedModelInfo {
  int32_t context_length = 0;     // the model's trained context (n_ctx_train)
  std::string architecture;       // "llama", "qwen2", ...
  std::string parameter_size;     // "135M" (Ollama's details.parameter_size)
  std::string quantization_level; // "Q8_0", "F16", ...
  std::string namespace_id;       // hex of the KV namespace: equal <=> KV shared
  uint64_t weights_bytes = 0;
};

// One model in memory (weights mapped, tokenizer ready). Dropping the last reference unloads it;
// its KV blocks stay in the memory tiers under its namespace.
class LoadedModel {
 public:
  virtual ~LoadedModel() = default;
  virtual const LoadedModelInfo& info() const = 0;
  // Text -> token ids. `add_special` adds BOS (etc.) as the model's vocabulary wants.
  virtual Result<std::vector<int32_t>> Tokenize(std::string_view text, bool add_special) const = 0;
  // The model's chat template applied to `messages`, ending with the assistant turn's opening.
  // `template_text` empty: the model's own template. Otherwise a template (a name such as
  // "llama3", or a Jinja/Go template text of a known family) to render with instead; when it is
  // not recognised, `required` makes that an InvalidArgument error, else the model's own is used.
  virtual Result<std::string> RenderChat(const std::vector<ApiChatMessage>& messages, const std::string& template_text = "",
                                         bool required = false) const = 0;
  // RenderChat with tools, tool-call turns and template variables. Only called when RendersTools()
  // or `options` carries no tools; the default ignores `options.extra` (text-only templates).
  virtual Result<std::string> RenderChatWith(const std::vector<ApiChatMessage>& messages, const ChatRenderOptions& options,
                                             const std::string& template_text, bool required) const {
    (void)options;
    return RenderChat(messages, template_text, required);
  }
  // True when the model's own template renders `tools` (a Jinja template that uses them); else
  // the server describes the tools itself (see generation_handler.cc).
  virtual bool RendersTools() const { return false; }
  // True when the model's own template has a thinking switch (`enable_thinking`, `<think>`):
  // Ollama's `think: true` and OpenAI's `reasoning_effort` are refused for any other model.
  virtual bool Thinks() const { return false; }
  // True when the model writes OpenAI's harmony format (gpt-oss: channels, <|message|>): its
  // replies are parsed by harmony_output.h, and its thinking cannot be switched off.
  virtual bool SpeaksHarmony() const { return false; }
  // A constrained-decoding constraint over this model's vocabulary for the grammar `make` builds;
  // `key` names the grammar so a repeated one reuses its compiled masks.
  virtual Result<std::shared_ptr<TokenConstraint>> MakeConstraint(const std::string& key,
                                                                  const std::function<Result<JsonGrammar>()>& make) const {
    (void)key;
    (void)make;
    return InvalidArgumentError("structured output is not available for this model");
  }
  // The text of one token (logprobs), "" when unknown.
  virtual std::string TokenText(int32_t token) const {
    (void)token;
    return "";
  }
};

// What /api/kv and the KV gauges of /metrics show. Filled by the memory core's stats.
struct KvUsage {
  std::string model;       // a registry name ("" when no loaded model names the namespace)
  std::string namespace_id;
  std::string tier;        // "ram", "disk", "redis"
  uint64_t blocks = 0;
  uint64_t bytes = 0;
  // Hybrid models (ram rows): a recurrent checkpoint in every k-th block; 0 for other models.
  int32_t checkpoint_interval_blocks = 0;
  uint64_t blocks_with_checkpoint = 0;      // of `blocks`
  uint64_t checkpoint_rollback_tokens = 0;  // cached tokens prefix hits recomputed for want of a checkpoint
};
struct KvSharedPrefix {
  std::string namespace_id;
  std::string model;        // the namespace's name (model path and KV type)
  uint64_t tokens = 0;      // prefix length
  uint64_t sequences = 0;   // sequences referencing it now
  uint64_t bytes = 0;       // its KV, held once
  uint64_t bytes_saved = 0; // what one copy per sequence would have added
  bool pinned = false;
};
// One KV tier below RAM (disk, shared dir, Redis) as /api/kv and /metrics show it.
struct KvTierSnapshot {
  std::string name;               // "disk", "shared", "redis"
  bool available = true;          // false while Redis is disconnected
  int64_t entries = -1;           // blocks stored; -1 when unknown (Redis)
  uint64_t bytes = 0;             // their bytes (0 when unknown)
  uint64_t capacity_bytes = 0;    // budget; 0 = the tier's own policy (Redis maxmemory)
  uint64_t restored_tokens = 0;   // prompt tokens brought back into RAM from this tier
  uint64_t restored_blocks = 0;   // entries read and verified from this tier, read-ahead included
  uint64_t written_blocks = 0;    // write-back of evicted blocks
  uint64_t write_failures = 0;
  uint64_t corrupt_dropped = 0;   // entries that failed verification, deleted and recomputed
  uint64_t mac_rejected = 0;      // --kv-secret: entries whose MAC failed (forged, unsigned), deleted
  uint64_t unavailable = 0;       // reads refused because the tier was down
  double restore_bytes_per_second = 0;  // measured, 0 until a restore happened
};
// One request waiting in a model's scheduler queue (for memory or a running slot).
struct QueuedRequestInfo {
  std::string namespace_id;   // the model's KV namespace (hex), as LoadedModelInfo
  RequestId id = 0;           // the request id (the backend's)
  int32_t position = 0;       // 0: admitted next in its model's queue
  int64_t tokens = 0;         // tokens it holds (prompt + generated so far)
  int32_t preemptions = 0;    // > 0: paused for memory; resumes where it stopped
  bool waiting_for_memory = false;  // its model's queue head waits for KV memory
};

// Context beyond RAM (engine/cold_kv.h) and preemption (engine/scheduler.h), summed over every
// model loaded since start (counters), or now (blocks_cold).
struct KvColdSnapshot {
  uint64_t blocks_cold = 0;          // blocks of live sequences whose bytes are only on disk now
  uint64_t blocks_written = 0;       // blocks made cold (beyond the hot window, or swapped out)
  uint64_t blocks_exported = 0;      // of which handed to the tiers' write-back (they survive a restart)
  uint64_t write_errors = 0;
  uint64_t slices_read = 0;          // (block, layer) slices streamed from disk for attention
  uint64_t bytes_read = 0;           // their bytes
  uint64_t read_errors = 0;
  uint64_t preemptions = 0;          // sequences paused for memory
  uint64_t preemptions_swapped = 0;  // of which kept on disk (swap) instead of recomputed
  uint64_t swap_failures = 0;        // swaps that failed (disk full...) and were recomputed
  uint64_t swap_read_failures = 0;   // swapped KV that could not be read back: recomputed
  KvColdSnapshot& operator+=(const KvColdSnapshot& o) {
    blocks_cold += o.blocks_cold, blocks_written += o.blocks_written, blocks_exported += o.blocks_exported;
    write_errors += o.write_errors, slices_read += o.slices_read, bytes_read += o.bytes_read;
    read_errors += o.read_errors, preemptions += o.preemptions, preemptions_swapped += o.preemptions_swapped;
    swap_failures += o.swap_failures, swap_read_failures += o.swap_read_failures;
    return *this;
  }
};

struct KvSnapshot {
  uint64_t budget_bytes = 0;
  uint64_t committed_bytes = 0;
  std::vector<KvUsage> usage;
  uint64_t prefix_tokens_hit = 0;
  uint64_t prefix_tokens_computed = 0;
  std::vector<std::pair<std::string, uint64_t>> evictions_by_reason;
  std::vector<KvSharedPrefix> most_shared;
  uint64_t pinned_blocks = 0;
  // Tiers below RAM, in restore order (empty without tiers), and the write-back queue.
  std::vector<KvTierSnapshot> tiers;
  uint64_t writeback_queue_blocks = 0;
  uint64_t writeback_queue_bytes = 0;
  uint64_t writeback_dropped = 0;      // evicted blocks not written (queue full, shutdown deadline)
  uint64_t writeback_enqueued = 0;     // blocks ever queued for writing (evicted or written through)
  uint64_t restores_skipped_for_recompute = 0;  // the cost model said recomputing was cheaper
  std::vector<QueuedRequestInfo> queue;  // every model's waiting requests, in admission order
  KvColdSnapshot cold;
};

// The KV of a token prefix on one loaded model, as pins (server/pin_service.h) plan with it.
struct KvPrefixState {
  int64_t block_tokens = 0;     // tokens per KV block: only whole blocks are kept by a pin
  uint64_t block_bytes = 0;     // what one block of this model takes from the budget
  uint64_t budget_bytes = 0;    // the one KV budget (--kv-memory)
  int64_t resident_tokens = 0;  // leading whole blocks of the prefix in RAM now, in tokens
  bool prefix_cache = true;     // false (--no-prefix-cache): no request would ever reuse it
};
// One named pin as the memory core holds it now.
struct KvPinState {
  std::string key;              // the name given to Pin()
  std::string namespace_id;
  int64_t resident_tokens = 0;  // of its whole blocks, those in RAM now
  uint64_t resident_bytes = 0;
};

class ServerBackend {
 public:
  virtual ~ServerBackend() = default;
  // Loads (maps) the GGUF at `weights_path`. Slow; the caller serialises loads of one file.
  virtual Result<std::shared_ptr<LoadedModel>> Load(const std::string& weights_path) = 0;
  // The engine. GenerationRequest::model carries the weights path of a model Load()ed before.
  virtual GenerationService* generation() = 0;
  virtual KvSnapshot Kv() = 0;
  // Keeps the KV of `tokens` (a prefix) resident for ttl_ms under `name`; Unpin drops the pin.
  virtual Status Pin(const LoadedModel& model, const std::string& name, const std::vector<int32_t>& tokens,
                     int64_t ttl_ms) = 0;
  virtual Status Unpin(const std::string& name) = 0;
  // Pins' view of the KV (defaults: a backend without KV accounting).
  virtual Result<KvPrefixState> PrefixState(const LoadedModel& model, std::span<const int32_t> tokens) {
    (void)model, (void)tokens;
    return UnimplementedError("this backend keeps no KV");
  }
  // Brings back from the tiers below RAM what they hold of `tokens` beyond its RAM chain; returns
  // the tokens restored (0 without tiers). Never fails: a tier problem means recomputing.
  virtual int64_t RestorePrefix(const LoadedModel& model, std::span<const int32_t> tokens) {
    (void)model, (void)tokens;
    return 0;
  }
  virtual std::vector<KvPinState> PinStates() { return {}; }
  // Where the pin registry lives (beside the disk tier); "" : pins are not persisted.
  virtual std::string PinRegistryPath() const { return ""; }
  // Requests waiting in the schedulers' queues (for /api/ps and /api/kv). Default: none.
  virtual std::vector<QueuedRequestInfo> Queue() { return {}; }
  // Every loaded model's engine steps by kind (engine/step_stats.h), summed. Default: none.
  virtual StepTotals EngineSteps() { return {}; }
};

}  // namespace swarmkv
