#!/usr/bin/env node
// Builds the same addon with node-gyp from binding.gyp, in a scratch copy so it
// does not clobber cmake-js's build/, and puts the result in build-gyp/.
// Node headers come from the system (--nodedir=/usr): node-gyp cannot download.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-gyp-'));
try {
  for (const item of ['binding.gyp', 'native', 'scripts', 'package.json']) {
    fs.cpSync(path.join(root, item), path.join(work, item), { recursive: true });
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(work, 'node_modules'));
  const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
  const nodedir = process.env.npm_config_nodedir || (fs.existsSync('/usr/include/node/node_api.h') ? '/usr' : path.dirname(path.dirname(process.execPath)));
  execFileSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '-j', String(os.cpus().length)], {
    cwd: work,
    stdio: 'inherit',
  });
  const out = path.join(root, 'build-gyp', 'Release');
  fs.mkdirSync(out, { recursive: true });
  fs.copyFileSync(path.join(work, 'build', 'Release', 'executorch_node.node'), path.join(out, 'executorch_node.node'));
  console.log(`node-gyp build: ${path.join(out, 'executorch_node.node')}`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
