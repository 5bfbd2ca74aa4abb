#include "model/model.h"

namespace swarmkv {

Result<std::unique_ptr<Model>> Model::Load(const std::string& path, const ModelLoadOptions& options) {
  std::unique_ptr<Model> m(new Model());
  SKV_ASSIGN_OR_RETURN(m->file_, GgufFile::Open(path, options.env));
  auto context = [&](const Status& s) { return s.WithContext("model '" + path + "'"); };
  auto hp = ModelHParams::FromGguf(*m->file_);
  if (!hp.ok()) return context(hp.status());
  m->hparams_ = *hp;
  auto w = ModelWeights::Bind(*m->file_, m->hparams_);
  if (!w.ok()) return context(w.status());
  m->weights_ = std::move(*w);
  if (options.compute_fingerprint) {
    FingerprintOptions fo = options.fingerprint;
    auto fp = GetWeightsFingerprint(*m->file_, fo);
    if (!fp.ok()) return context(fp.status());
    m->fingerprint_ = fp->fingerprint;
    m->fingerprint_source_ = fp->source;
  }
  return m;
}

std::string Model::DebugString() const {
  return "Model{" + path() + ": " + hparams_.DebugString() + ", fingerprint=" + fingerprint_.ToHex() + "}";
}

}  // namespace swarmkv
