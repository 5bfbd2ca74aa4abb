#include "server/pin_registry.h"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

namespace swarmkv {

using json = nlohmann::json;

namespace {

constexpr std::string_view kFormat = "swarmkv-pins";
constexpr int kVersion = 1;
constexpr int kMaxDepth = 4;  // {pins: [{tokens: [..]}]}

// JSON nesting depth of `text` (brackets outside strings): checked before parsing, so a file of a
// million '[' cannot make the parser or the destructor of its value recurse that deep.
int MaxDepth(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') max_depth = std::max(max_depth, ++depth);
    else if (c == ']' || c == '}') --depth;
  }
  return max_depth;
}

Status Bad(size_t index, const std::string& what) {
  return CorruptionError("pin registry: record " + std::to_string(index) + ": " + what);
}

Result<std::string> BoundedString(const json& rec, const char* field, size_t index, size_t max_bytes, bool required) {
  if (!rec.contains(field)) {
    if (required) return Bad(index, std::string("field '") + field + "' is missing");
    return std::string();
  }
  const json& v = rec[field];
  if (!v.is_string()) return Bad(index, std::string("field '") + field + "' must be a string");
  std::string s = v.get<std::string>();
  if (required && s.empty()) return Bad(index, std::string("field '") + field + "' is empty");
  if (s.size() > max_bytes)
    return Bad(index, std::string("field '") + field + "' is " + std::to_string(s.size()) + " bytes (limit " +
                          std::to_string(max_bytes) + ")");
  return s;
}

Result<int64_t> UnixMs(const json& rec, const char* field, size_t index) {
  if (!rec.contains(field)) return int64_t{0};
  const json& v = rec[field];
  if (!v.is_number_integer() || v.get<int64_t>() < 0)
    return Bad(index, std::string("field '") + field + "' must be a non-negative integer (unix ms)");
  return v.get<int64_t>();
}

}  // namespace

Result<std::vector<PinRecord>> PinRegistry::Parse(std::string_view text, const PinRegistryOptions& limits) {
  if (text.size() > limits.max_file_bytes)
    return CorruptionError("pin registry: the file is " + std::to_string(text.size()) + " bytes (limit " +
                           std::to_string(limits.max_file_bytes) + ")");
  if (MaxDepth(text) > kMaxDepth) return CorruptionError("pin registry: JSON nested deeper than the format allows");
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return CorruptionError("pin registry: not a JSON object");
  if (!doc.contains("format") || doc["format"] != kFormat)
    return CorruptionError("pin registry: 'format' is not \"" + std::string(kFormat) + "\"");
  if (!doc.contains("version") || !doc["version"].is_number_integer() || doc["version"].get<int64_t>() != kVersion)
    return CorruptionError("pin registry: unsupported 'version' (this server reads version " + std::to_string(kVersion) + ")");
  if (!doc.contains("pins") || !doc["pins"].is_array()) return CorruptionError("pin registry: 'pins' must be an array");
  const json& pins = doc["pins"];
  if (pins.size() > limits.max_pins)
    return CorruptionError("pin registry: " + std::to_string(pins.size()) + " pins (limit " +
                           std::to_string(limits.max_pins) + ")");
  std::vector<PinRecord> out;
  for (size_t i = 0; i < pins.size(); ++i) {
    const json& rec = pins[i];
    if (!rec.is_object()) return Bad(i, "not a JSON object");
    PinRecord r;
    SKV_ASSIGN_OR_RETURN(r.model, BoundedString(rec, "model", i, limits.max_name_bytes, true));
    SKV_ASSIGN_OR_RETURN(r.name, BoundedString(rec, "name", i, limits.max_name_bytes, true));
    SKV_ASSIGN_OR_RETURN(r.digest, BoundedString(rec, "digest", i, limits.max_name_bytes, false));
    SKV_ASSIGN_OR_RETURN(r.namespace_id, BoundedString(rec, "namespace", i, limits.max_name_bytes, false));
    SKV_ASSIGN_OR_RETURN(r.created_unix_ms, UnixMs(rec, "created_at_ms", i));
    SKV_ASSIGN_OR_RETURN(r.expires_unix_ms, UnixMs(rec, "expires_at_ms", i));
    if (!rec.contains("tokens") || !rec["tokens"].is_array()) return Bad(i, "field 'tokens' must be an array of token ids");
    const json& tokens = rec["tokens"];
    if (tokens.empty()) return Bad(i, "field 'tokens' is empty");
    if (tokens.size() > limits.max_tokens)
      return Bad(i, std::to_string(tokens.size()) + " tokens (limit " + std::to_string(limits.max_tokens) + ")");
    r.tokens.reserve(tokens.size());
    for (size_t t = 0; t < tokens.size(); ++t) {
      const json& v = tokens[t];
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > std::numeric_limits<int32_t>::max())
        return Bad(i, "token " + std::to_string(t) + " is not a token id (an integer in [0, 2^31))");
      r.tokens.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
    for (const PinRecord& o : out)
      if (o.model == r.model && o.name == r.name) return Bad(i, "a second pin '" + r.name + "' of model '" + r.model + "'");
    out.push_back(std::move(r));
  }
  return out;
}

std::string PinRegistry::Serialize(const std::vector<PinRecord>& records) {
  json pins = json::array();
  for (const PinRecord& r : records)
    pins.push_back({{"model", r.model}, {"name", r.name}, {"digest", r.digest}, {"namespace", r.namespace_id},
                    {"created_at_ms", r.created_unix_ms}, {"expires_at_ms", r.expires_unix_ms}, {"tokens", r.tokens}});
  json doc = {{"format", kFormat}, {"version", kVersion}, {"pins", pins}};
  return doc.dump() + "\n";
}

PinRegistry::PinRegistry(PinRegistryOptions options)
    : options_(std::move(options)), env_(options_.env != nullptr ? options_.env : Env::Default()) {}

Result<std::unique_ptr<PinRegistry>> PinRegistry::Open(PinRegistryOptions options) {
  std::unique_ptr<PinRegistry> r(new PinRegistry(std::move(options)));
  if (r->options_.path.empty() || !r->env_->FileExists(r->options_.path)) return r;
  SKV_ASSIGN_OR_RETURN(FileInfo info, r->env_->Stat(r->options_.path));
  if (info.size_bytes > r->options_.max_file_bytes)
    return CorruptionError("pin registry " + r->options_.path + " is " + std::to_string(info.size_bytes) +
                           " bytes (limit " + std::to_string(r->options_.max_file_bytes) + ")");
  SKV_ASSIGN_OR_RETURN(std::string text, r->env_->ReadFile(r->options_.path));
  auto records = Parse(text, r->options_);
  if (!records.ok()) return records.status().WithContext(r->options_.path);
  r->records_ = std::move(records).value();
  return r;
}

Status PinRegistry::CheckRecord(const PinRecord& r) const {
  if (r.model.empty() || r.name.empty()) return InvalidArgumentError("a pin needs a model and a name");
  for (const std::string* s : {&r.model, &r.name, &r.digest, &r.namespace_id})
    if (s->size() > options_.max_name_bytes)
      return InvalidArgumentError("pin field of " + std::to_string(s->size()) + " bytes (limit " +
                                  std::to_string(options_.max_name_bytes) + ")");
  if (r.tokens.empty()) return InvalidArgumentError("a pin needs at least one token");
  if (r.tokens.size() > options_.max_tokens)
    return InvalidArgumentError("the prefix is " + std::to_string(r.tokens.size()) + " tokens; a pin holds at most " +
                                std::to_string(options_.max_tokens));
  return Status::OK();
}

Status PinRegistry::Put(PinRecord record) {
  SKV_RETURN_IF_ERROR(CheckRecord(record));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(records_.begin(), records_.end(),
                         [&](const PinRecord& r) { return r.model == record.model && r.name == record.name; });
  if (it != records_.end()) {
    *it = std::move(record);
  } else {
    if (records_.size() >= options_.max_pins)
      return ResourceExhaustedError(std::to_string(records_.size()) + " pins exist (the limit); unpin one first");
    records_.push_back(std::move(record));
  }
  return SaveLocked();
}

Status PinRegistry::Remove(const std::string& model, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(records_.begin(), records_.end(),
                         [&](const PinRecord& r) { return r.model == model && r.name == name; });
  if (it == records_.end()) return NotFoundError("no KV pin named '" + name + "' on model '" + model + "'");
  records_.erase(it);
  return SaveLocked();
}

std::optional<PinRecord> PinRegistry::Find(const std::string& model, const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const PinRecord& r : records_)
    if (r.model == model && r.name == name) return r;
  return std::nullopt;
}

std::vector<PinRecord> PinRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_;
}

int PinRegistry::DropExpired(int64_t now_unix_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t n = std::erase_if(records_, [&](const PinRecord& r) { return r.Expired(now_unix_ms); });
  if (n > 0) SaveLocked().IgnoreError();
  return static_cast<int>(n);
}

Status PinRegistry::SaveLocked() const {
  if (options_.path.empty()) return Status::OK();
  Status s = env_->WriteFileAtomic(options_.path, Serialize(records_), /*sync=*/true);
  if (!s.ok()) return s.WithContext("writing the pin registry " + options_.path);
  return s;
}

}  // namespace swarmkv
