#include "backend.h"

namespace etn {

namespace {
std::map<std::string, Backend*>& table() {
  static std::map<std::string, Backend*> backends;
  return backends;
}
std::map<std::string, DelegateInspector>& inspectors() {
  static std::map<std::string, DelegateInspector> table;
  return table;
}
}  // namespace

bool registerDelegateInspector(const std::string& id, DelegateInspector fn) {
  inspectors()[id] = fn;
  return true;
}

DelegateInspector findDelegateInspector(const std::string& id) {
  auto it = inspectors().find(id);
  return it == inspectors().end() ? nullptr : it->second;
}

bool registerBackend(const std::string& id, Backend* backend) {
  table()[id] = backend;
  return true;
}

Backend* findBackend(const std::string& id) {
  auto it = table().find(id);
  return it == table().end() ? nullptr : it->second;
}

std::vector<std::string> registeredBackendNames() {
  std::vector<std::string> names;
  for (const auto& kv : table()) names.push_back(kv.first);
  return names;
}

}  // namespace etn
