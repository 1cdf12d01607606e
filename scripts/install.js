#!/usr/bin/env node
// `npm install` step: make sure the system libraries are present (installing
// them with apt-get when running as root on Debian/Ubuntu), then build the
// native addon with cmake-js. The TypeScript build runs in `prepare`.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const { missingPackages } = require('./system-deps');

function aptInstall(packages) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  console.log(`executorch-node: installing ${packages.join(' ')} with apt-get`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env });
}

function ensureSystemDeps() {
  const missing = missingPackages();
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = fs.existsSync('/usr/bin/apt-get');
  if (isRoot && hasApt) {
    aptInstall(missing);
    const still = missingPackages();
    if (still.length === 0) return;
    console.error(`executorch-node: still missing after apt-get: ${still.join(' ')}`);
    process.exit(1);
  }
  console.error(
    `executorch-node: the native build needs system packages that are missing: ${missing.join(' ')}\n` +
      `Install them, then run npm install again:\n` +
      `  sudo apt-get install -y ${missing.join(' ')}`,
  );
  process.exit(1);
}

ensureSystemDeps();
require('./build-native.js').buildNative({ asan: false });
