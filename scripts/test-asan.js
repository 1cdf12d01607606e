#!/usr/bin/env node
// Builds the addon with AddressSanitizer + UBSan (build-asan/) and runs the
// hostile-input and program tests against it. Node itself is not instrumented,
// so the ASan runtime is preloaded; leak checking is left to the lifecycle
// test (Node keeps intentional allocations until exit that LSan would report).
'use strict';
const { execFileSync } = require('child_process');
const path = require('path');
const fs = require('fs');

const root = path.join(__dirname, '..');
require('./build-native.js').buildNative({ asan: true });
const binary = ['Debug', 'Release'].map((d) => path.join(root, 'build-asan', d, 'executorch_node.node')).find((f) => fs.existsSync(f));
if (!binary) throw new Error('ASan build produced no executorch_node.node');

const runtimeLib = (name) => execFileSync('gcc', [`-print-file-name=${name}`]).toString().trim();
const preload = [runtimeLib('libasan.so'), runtimeLib('libubsan.so')].join(' ');
const files = process.argv.slice(2);
const env = {
  ...process.env,
  EXECUTORCH_NODE_BINARY: binary,
  LD_PRELOAD: preload,
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:allocator_may_return_null=1',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
};
const vitest = require.resolve('vitest/vitest.mjs');
execFileSync(process.execPath, [vitest, 'run', ...(files.length ? files : ['test/hostile.test.ts', 'test/programs.test.ts'])], {
  cwd: root,
  stdio: 'inherit',
  env,
});
console.log(`ASan/UBSan run passed with ${binary}`);
