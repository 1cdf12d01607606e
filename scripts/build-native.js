#!/usr/bin/env node
// Builds the addon with cmake-js into build/ (or build-asan/ with --asan).
'use strict';
const { execFileSync } = require('child_process');
const path = require('path');
const os = require('os');

function buildNative({ asan }) {
  const root = path.join(__dirname, '..');
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const args = [cmakeJs, 'compile', '--out', asan ? 'build-asan' : 'build', '--parallel', String(Math.max(1, os.cpus().length))];
  if (asan) args.push('--CDETN_SANITIZE=ON', '--debug');
  execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
}

module.exports = { buildNative };

if (require.main === module) buildNative({ asan: process.argv.includes('--asan') });
