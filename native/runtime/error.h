// Errors inside the engine are C++ exceptions carrying a stable code; the addon
// turns them into JS ExecuTorchError objects. Nothing in the engine aborts.
#pragma once
#include <stdexcept>
#include <string>
#include <sstream>

namespace etn {

enum class ErrorCode {
  InvalidProgram,      // the file is malformed, truncated or inconsistent
  InvalidArgument,     // the caller passed something wrong (input count/dtype/shape, bad option)
  OperatorMissing,     // the program calls an operator this build does not have
  BackendNotAvailable, // the program needs a delegate backend this build does not have
  NotSupported,        // a feature of the format or an op variant we do not implement
  OutOfMemory,         // an allocation failed or a planned size is absurd
  NotFound,            // a file, method or named tensor is missing
  IoError,             // the OS refused to open/map/read a file
  Internal,            // a bug on our side
};

const char* errorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

namespace detail {
inline void appendAll(std::ostringstream&) {}
template <typename T, typename... Rest>
void appendAll(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  appendAll(os, rest...);
}
}  // namespace detail

// fail(ErrorCode::InvalidProgram, "tensor ", i, " has ", n, " dims") throws.
template <typename... Parts>
[[noreturn]] void fail(ErrorCode code, const Parts&... parts) {
  std::ostringstream os;
  detail::appendAll(os, parts...);
  throw Error(code, os.str());
}

#define ETN_CHECK(cond, code, ...)      \
  do {                                  \
    if (!(cond)) ::etn::fail(code, __VA_ARGS__); \
  } while (0)

}  // namespace etn
