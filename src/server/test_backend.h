// A scripted ServerBackend for the server's own unit tests (never linked into swarmkv).
//
// It stands in for the seam below the server — not for the engine in end-to-end tests, which
// run the real `swarmkv serve`. Tokenizer: one token per byte (id = byte + 1; BOS = 0 when
// add_special). Chat template: "<|role|>content\n" per message, then "<|assistant|>".
// Generation: a thread per request emits tokens "w0 ", "w1 ", ... every `token_interval_ms`
// until max_new_tokens (finish "length") or `natural_tokens` (finish "stop"); it stops with
// "cancelled" when Cancel() is called or OnToken returns false. prompt_tokens_reused is
// min(prompt, reuse_tokens) so the cached-token plumbing is visible. `reply_pieces`, when set,
// are the tokens' texts instead (and their number the natural length); `harmony` makes the
// model one that writes gpt-oss's harmony format.
//
// Thread-safety: all methods thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "server/backend.h"

namespace swarmkv::testing {

class ByteModel : public LoadedModel {
 public:
  explicit ByteModel(int32_t context_length, bool harmony = false) : harmony_(harmony) {
    info_.context_length = context_length;
    info_.architecture = "llama";
    info_.parameter_size = "1K";
    info_.quantization_level = "F32";
    info_.namespace_id = "0123456789abcdef0123456789abcdef";
  }
  const LoadedModelInfo& info() const override { return info_; }
  Result<std::vector<int32_t>> Tokenize(std::string_view text, bool add_special) const override {
    std::vector<int32_t> out;
    if (add_special) out.push_back(0);
    for (unsigned char c : text) out.push_back(static_cast<int32_t>(c) + 1);
    return out;
  }
  Result<std::string> RenderChat(const std::vector<ApiChatMessage>& messages, const std::string& template_text = "",
                                 bool required = false) const override {
    if (required && template_text != "test") return InvalidArgumentError("unrecognised chat template '" + template_text + "'");
    std::string s;
    for (const auto& m : messages) s += "<|" + m.role + "|>" + m.content + "\n";
    return s + "<|assistant|>";
  }

  bool Thinks() const override { return harmony_; }
  bool SpeaksHarmony() const override { return harmony_; }

 private:
  LoadedModelInfo info_;
  bool harmony_;
};

class ScriptedBackend : public ServerBackend, public GenerationService {
 public:
  int32_t context_length = 256;
  int natural_tokens = 5;
  int token_interval_ms = 1;
  int reuse_tokens = 0;
  std::atomic<int> loads{0};
  std::atomic<int> cancels{0};
  std::atomic<int> finished{0};
  std::atomic<int> submits{0};  // accepted Submit calls (the server holds a generation slot for each)
  std::atomic<int> load_delay_ms{0};
  std::atomic<bool> reject_submits{false};  // Submit says ResourceExhausted (engine queue full)
  std::atomic<int> fail_after_tokens{-1};   // >= 0: OnFinish with an Internal error after this many
  std::atomic<int> prefill_ms{0};           // each request's prompt takes this long (cancellable)
  std::string last_client_id;               // of the last Submit (guarded by mu_)
  std::vector<std::string> reply_pieces;    // set before the first request: the reply's token texts
  bool harmony = false;                     // set before the first load

  ~ScriptedBackend() override {
    std::vector<std::thread> ts;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto& [id, t] : threads_) ts.push_back(std::move(t));
    }
    for (auto& t : ts) t.join();
  }

  Result<std::shared_ptr<LoadedModel>> Load(const std::string& path) override {
    if (load_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(load_delay_ms.load()));
    ++loads;
    if (path.find("broken") != std::string::npos) return CorruptionError("not a GGUF file: " + path);
    if (path.find("throws") != std::string::npos) throw std::runtime_error("loader exploded: " + path);
    return std::shared_ptr<LoadedModel>(std::make_shared<ByteModel>(context_length, harmony));
  }
  GenerationService* generation() override { return this; }
  KvSnapshot Kv() override {
    KvSnapshot kv;
    kv.budget_bytes = 1 << 20;
    kv.usage.push_back({"", "0123456789abcdef0123456789abcdef", "ram", 2, 4096});
    kv.prefix_tokens_hit = 3;
    kv.prefix_tokens_computed = 1;
    kv.most_shared.push_back({"0123456789abcdef0123456789abcdef", "tiny.gguf:f16", 64, 3, 8192, 16384, true});
    kv.cold.slices_read = 90;
    kv.cold.bytes_read = 368640;
    kv.cold.preemptions = 3;
    kv.cold.preemptions_swapped = 2;
    return kv;
  }
  Status Pin(const LoadedModel&, const std::string& name, const std::vector<int32_t>& tokens, int64_t) override {
    std::lock_guard<std::mutex> l(mu_);
    pins_[name] = tokens.size();
    return Status::OK();
  }
  Status Unpin(const std::string& name) override {
    std::lock_guard<std::mutex> l(mu_);
    if (pins_.erase(name) == 0) return NotFoundError("no pin named '" + name + "'");
    return Status::OK();
  }
  // Blocks of 2 tokens, 1 KiB each, in a 1 MiB budget; a pin is resident as soon as it is made.
  Result<KvPrefixState> PrefixState(const LoadedModel&, std::span<const int32_t>) override {
    return KvPrefixState{2, 1024, 1 << 20, 0};
  }
  std::vector<KvPinState> PinStates() override {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<KvPinState> out;
    for (const auto& [name, n] : pins_)
      out.push_back({name, "0123456789abcdef0123456789abcdef", static_cast<int64_t>(n / 2 * 2), n / 2 * 1024});
    return out;
  }

  Result<RequestId> Submit(GenerationRequest request, std::shared_ptr<GenerationObserver> observer) override {
    if (static_cast<int32_t>(request.prompt_tokens.size()) >= request.num_ctx)
      return InvalidArgumentError("prompt longer than the context");
    if (reject_submits) return ResourceExhaustedError("engine queue is full (1024 waiting)");
    ++submits;
    std::lock_guard<std::mutex> l(mu_);
    last_client_id = request.client_id;
    // Join the threads of generations that have finished (benchmarks submit thousands).
    for (auto it = done_.begin(); it != done_.end();) {
      if (*it->second) {
        threads_[it->first].join();
        threads_.erase(it->first);
        cancel_.erase(it->first);
        it = done_.erase(it);
      } else {
        ++it;
      }
    }
    RequestId id = next_id_++;
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    auto done = std::make_shared<std::atomic<bool>>(false);
    cancel_[id] = cancel;
    done_[id] = done;
    threads_[id] = std::thread([this, request = std::move(request), observer, cancel, done] {
      GenerationStats stats;
      stats.prompt_tokens = static_cast<int32_t>(request.prompt_tokens.size());
      stats.prompt_tokens_reused = std::min(stats.prompt_tokens, reuse_tokens);
      stats.finish_reason = "stop";
      Status status;
      for (int t = 0; t < prefill_ms && !*cancel; ++t) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      for (int i = 0;; ++i) {
        if (fail_after_tokens >= 0 && i >= fail_after_tokens) {
          status = InternalError("forward pass failed: NaN in layer 3 logits");
          stats.finish_reason = "error";
          break;
        }
        if (request.max_new_tokens >= 0 && i >= request.max_new_tokens) {
          stats.finish_reason = "length";
          break;
        }
        if (i >= (reply_pieces.empty() ? natural_tokens : static_cast<int>(reply_pieces.size()))) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(token_interval_ms));
        const std::string piece = reply_pieces.empty() ? "w" + std::to_string(i) + " " : reply_pieces[i];
        if (*cancel || !observer->OnToken(1000 + i, piece)) {
          stats.finish_reason = "cancelled";
          ++cancels;
          break;
        }
        ++stats.generated_tokens;
      }
      ++finished;
      observer->OnFinish(status, stats);
      *done = true;
    });
    return id;
  }
  void Cancel(RequestId id) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = cancel_.find(id);
    if (it != cancel_.end()) *it->second = true;
  }
  std::string client_id() {
    std::lock_guard<std::mutex> l(mu_);
    return last_client_id;
  }
  size_t pins() {
    std::lock_guard<std::mutex> l(mu_);
    return pins_.size();
  }

 private:
  std::mutex mu_;
  RequestId next_id_ = 1;
  std::map<RequestId, std::thread> threads_;
  std::map<RequestId, std::shared_ptr<std::atomic<bool>>> cancel_;
  std::map<RequestId, std::shared_ptr<std::atomic<bool>>> done_;
  std::map<std::string, size_t> pins_;
};

}  // namespace swarmkv::testing
