// Bindings of the exporter's native helpers (native/export): each returns a Promise
// and does its work on a worker thread, so exporting never blocks the event loop.
#pragma once
#include <napi.h>

namespace etn::addon {

// Adds the export functions (quantizeSymmetric, packInt4) to the module's exports.
void registerExportBindings(Napi::Env env, Napi::Object exports);

}  // namespace etn::addon
