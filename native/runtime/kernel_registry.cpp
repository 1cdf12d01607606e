#include "kernel_registry.h"

#include <algorithm>
#include <map>

namespace etn {

namespace {
// Function-local static: kernel files register during static initialisation,
// in an order we do not control.
std::map<std::string, KernelFn>& table() {
  static std::map<std::string, KernelFn> kernels;
  return kernels;
}
}  // namespace

bool registerKernel(const char* name, KernelFn fn) {
  table()[name] = fn;
  return true;
}

KernelFn findKernel(const std::string& name) {
  auto it = table().find(name);
  return it == table().end() ? nullptr : it->second;
}

std::vector<std::string> registeredKernelNames() {
  std::vector<std::string> names;
  for (const auto& kv : table()) names.push_back(kv.first);
  return names;
}

}  // namespace etn
