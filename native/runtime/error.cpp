#include "error.h"

namespace etn {

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidProgram: return "InvalidProgram";
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::OperatorMissing: return "OperatorMissing";
    case ErrorCode::BackendNotAvailable: return "BackendNotAvailable";
    case ErrorCode::NotSupported: return "NotSupported";
    case ErrorCode::OutOfMemory: return "OutOfMemory";
    case ErrorCode::NotFound: return "NotFound";
    case ErrorCode::IoError: return "IoError";
    case ErrorCode::Internal: return "Internal";
  }
  return "Internal";
}

}  // namespace etn
