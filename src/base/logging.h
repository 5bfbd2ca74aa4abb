// Logging to stderr and invariant checks.
//
//   SKV_LOG(INFO) << "loaded " << name;     // one line, written atomically
//   SKV_CHECK(refs > 0) << "block " << id;  // aborts with the message when false (a bug)
//
// The level comes from SetLogLevel() or the SWARMKV_LOG environment variable (debug, info, warn,
// error; default info). Thread-safe: each message is formatted locally and written under a lock.
#pragma once

#include <sstream>
#include <string_view>

namespace swarmkv {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kFatal = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
bool ParseLogLevel(std::string_view name, LogLevel* out);

namespace internal {
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();  // writes; aborts for kFatal
  std::ostream& stream() { return os_; }

 private:
  LogLevel level_;
  std::ostringstream os_;
};
// Lets `SKV_LOG(x) << ...` be an expression of type void in a ternary.
struct Voidify {
  void operator&(std::ostream&) {}
};
}  // namespace internal

}  // namespace swarmkv

#define SKV_LOG_LEVEL_DEBUG ::swarmkv::LogLevel::kDebug
#define SKV_LOG_LEVEL_INFO ::swarmkv::LogLevel::kInfo
#define SKV_LOG_LEVEL_WARN ::swarmkv::LogLevel::kWarn
#define SKV_LOG_LEVEL_ERROR ::swarmkv::LogLevel::kError
#define SKV_LOG_LEVEL_FATAL ::swarmkv::LogLevel::kFatal

#define SKV_LOG(level)                                                     \
  (SKV_LOG_LEVEL_##level < ::swarmkv::GetLogLevel())                       \
      ? (void)0                                                            \
      : ::swarmkv::internal::Voidify() &                                   \
            ::swarmkv::internal::LogMessage(SKV_LOG_LEVEL_##level, __FILE__, __LINE__).stream()

#define SKV_CHECK(cond)                                                                   \
  (cond) ? (void)0                                                                        \
         : ::swarmkv::internal::Voidify() &                                               \
               ::swarmkv::internal::LogMessage(::swarmkv::LogLevel::kFatal, __FILE__, __LINE__) \
                       .stream()                                                          \
                   << "Check failed: " #cond " "

#ifdef NDEBUG
#define SKV_DCHECK(cond) \
  while (false) SKV_CHECK(cond)
#else
#define SKV_DCHECK(cond) SKV_CHECK(cond)
#endif
