#include "tiers/fault_env.h"

namespace swarmkv {

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultEnv* env, std::string path, std::unique_ptr<WritableFile> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}
  Status Append(std::span<const uint8_t> data) override {
    SKV_RETURN_IF_ERROR(env_->ChargeWrite(path_, data.size()));
    return base_->Append(data);
  }
  Status Sync() override { return base_->Sync(); }
  Status Close() override { return base_->Close(); }

 private:
  FaultEnv* const env_;
  const std::string path_;
  std::unique_ptr<WritableFile> base_;
};

Status FaultEnv::ChargeWrite(const std::string& path, uint64_t n) {
  ++write_attempts_;
  bool fail = disk_full_.load();
  int64_t budget = write_budget_.load();
  if (!fail && budget >= 0) {
    if (static_cast<int64_t>(n) > budget) {
      fail = true;
    } else {
      write_budget_ -= static_cast<int64_t>(n);
    }
  }
  if (!fail) return Status::OK();
  ++injected_failures_;
  return IOError("write '" + path + "': No space left on device (injected)");
}

Result<std::unique_ptr<WritableFile>> FaultEnv::NewWritableFile(const std::string& path) {
  SKV_ASSIGN_OR_RETURN(auto base, base_->NewWritableFile(path));
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, path, std::move(base)));
}

Result<std::unique_ptr<WritableFile>> FaultEnv::NewExclusiveFile(const std::string& path, int mode) {
  SKV_ASSIGN_OR_RETURN(auto base, base_->NewExclusiveFile(path, mode));
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, path, std::move(base)));
}

Status FaultEnv::RenameFile(const std::string& from, const std::string& to) {
  if (fail_renames_) {
    ++injected_failures_;
    return IOError("rename '" + from + "' to '" + to + "': Input/output error (injected)");
  }
  return base_->RenameFile(from, to);
}

}  // namespace swarmkv
