#include "engine/local_engine.h"

#include <sstream>

#include "base/thread_pool.h"
#include "engine/model_runner.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace swarmkv {

namespace {

class LocalEngineImpl final : public LocalEngine {
 public:
  Status Init(const LocalEngineOptions& options) {
    pool_ = std::make_unique<ThreadPool>(options.threads);
    SKV_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, Model::Load(options.model_path));
    model_ = std::move(model);
    SKV_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, Tokenizer::Load(options.model_path));
    tokenizer_ = std::move(tok);
    KvMemoryOptions mo;
    mo.budget_bytes = options.kv_budget_bytes;
    SKV_ASSIGN_OR_RETURN(memory_, KvMemory::Create(mo));
    LlamaRunnerOptions ro;
    ro.kv_type = options.kv_type;
    ro.pool = pool_.get();
    ro.kv_hot_window_tokens = options.kv_hot_window_tokens;
    ro.cold_dir = options.cold_dir;
    SKV_ASSIGN_OR_RETURN(std::unique_ptr<LlamaRunner> runner,
                         LlamaRunner::Create(model_, tokenizer_, memory_.get(), ro));
    runner_ = std::move(runner);
    SKV_ASSIGN_OR_RETURN(scheduler_, Scheduler::Create(runner_, options.scheduler));
    return Status::OK();
  }
  ~LocalEngineImpl() override {
    scheduler_.reset();  // joins the engine thread first
    runner_.reset();
    memory_.reset();
  }

  GenerationService* service() override { return scheduler_.get(); }
  Result<std::vector<int32_t>> Tokenize(std::string_view text, bool add_special) const override {
    EncodeOptions eo;
    eo.add_special = add_special;
    eo.parse_special = true;
    return tokenizer_->Encode(text, eo);
  }
  Result<std::string> RenderUserTurn(std::string_view user_message) const override {
    ChatTemplate t = ChatTemplate::ForVocab(tokenizer_->vocab(), nullptr, ModelArchName(model_->hparams().arch));
    swarmkv::ChatMessage m;
    m.role = "user";
    m.content = std::string(user_message);
    return t.Render(std::span<const swarmkv::ChatMessage>(&m, 1), true);
  }
  int32_t context_length() const override { return runner_->context_length(); }
  int32_t vocab_size() const override { return runner_->vocab_size(); }
  int32_t bos() const override { return tokenizer_->vocab().bos(); }
  std::string Describe() const override {
    const ModelHParams& h = model_->hparams();
    std::ostringstream os;
    os << ModelArchName(h.arch) << " " << h.n_layer << "L/" << h.n_embd << "d, vocab " << h.n_vocab << ", "
       << model_->gguf().file_size() / 1048576.0 << " MiB";
    return os.str();
  }

 private:
  std::unique_ptr<ThreadPool> pool_;
  std::shared_ptr<const Model> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::unique_ptr<KvMemory> memory_;
  std::shared_ptr<LlamaRunner> runner_;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace

Result<std::unique_ptr<LocalEngine>> LocalEngine::Create(const LocalEngineOptions& options) {
  auto e = std::make_unique<LocalEngineImpl>();
  SKV_RETURN_IF_ERROR(e->Init(options));
  return std::unique_ptr<LocalEngine>(std::move(e));
}

}  // namespace swarmkv
