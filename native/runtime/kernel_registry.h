// Operators by their full name ("aten::add.out"). Each kernel file registers
// its ops with ETN_REGISTER_KERNEL; adding an op is one file plus that line.
#pragma once
#include <string>
#include <vector>

#include "kernel_args.h"

namespace etn {

bool registerKernel(const char* name, KernelFn fn);
KernelFn findKernel(const std::string& name);  // nullptr when missing
std::vector<std::string> registeredKernelNames();

}  // namespace etn

#define ETN_CONCAT_INNER(a, b) a##b
#define ETN_CONCAT(a, b) ETN_CONCAT_INNER(a, b)
#define ETN_REGISTER_KERNEL(name, fn) \
  static const bool ETN_CONCAT(etn_kernel_registered_, __LINE__) = ::etn::registerKernel(name, fn)
