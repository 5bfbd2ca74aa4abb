#include "server/json_limits.h"

#include <string>

namespace swarmkv {

namespace {

using json = nlohmann::json;

// Counts depth and values; returns false (which makes nlohmann stop at once) past a cap.
class LimitChecker : public nlohmann::json_sax<json> {
 public:
  explicit LimitChecker(const JsonLimits& limits) : limits_(limits) {}

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(size_t) override { return Open(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return Close(); }
  bool start_array(size_t) override { return Open(); }
  bool end_array() override { return Close(); }
  bool parse_error(size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
    syntax_error_ = true;
    position_ = position;
    message_ = ex.what();
    return false;
  }

  bool syntax_error() const { return syntax_error_; }
  const std::string& message() const { return message_; }
  size_t position() const { return position_; }

 private:
  bool Value() {
    if (++elements_ > limits_.max_elements) {
      message_ = "more than " + std::to_string(limits_.max_elements) + " JSON values";
      return false;
    }
    return true;
  }
  bool Open() {
    if (!Value()) return false;
    if (++depth_ > limits_.max_depth) {
      message_ = "JSON nested deeper than " + std::to_string(limits_.max_depth) + " levels";
      return false;
    }
    return true;
  }
  bool Close() {
    --depth_;
    return true;
  }

  const JsonLimits limits_;
  int depth_ = 0;
  size_t elements_ = 0;
  bool syntax_error_ = false;
  size_t position_ = 0;
  std::string message_;
};

}  // namespace

namespace {

// The SAX pass: OK when `text` is JSON within the caps.
Status CheckJsonLimits(std::string_view text, const JsonLimits& limits, std::string_view what) {
  LimitChecker checker(limits);
  bool ok = json::sax_parse(text.begin(), text.end(), &checker, nlohmann::detail::input_format_t::json,
                            /*strict=*/true);
  if (ok) return Status::OK();
  if (checker.syntax_error()) return InvalidArgumentError(std::string(what) + " is not valid JSON: " + checker.message());
  return InvalidArgumentError(std::string(what) + " is refused: " + checker.message());
}

template <typename Json>
Result<Json> ParseWithin(std::string_view text, const JsonLimits& limits, std::string_view what) {
  SKV_RETURN_IF_ERROR(CheckJsonLimits(text, limits, what));
  // Within the caps: build the value (a second, now bounded, pass).
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return InvalidArgumentError(std::string(what) + " is not valid JSON");
  return value;
}

}  // namespace

Result<json> ParseJsonLimited(std::string_view text, const JsonLimits& limits, std::string_view what) {
  return ParseWithin<json>(text, limits, what);
}

Result<nlohmann::ordered_json> ParseOrderedJsonLimited(std::string_view text, const JsonLimits& limits,
                                                       std::string_view what) {
  return ParseWithin<nlohmann::ordered_json>(text, limits, what);
}

}  // namespace swarmkv
