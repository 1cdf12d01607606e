#!/usr/bin/env node
// Prints the addon's C++ sources, one per line, for binding.gyp (gyp has no glob).
// CMakeLists.txt globs the same folders.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const folders = ['native/runtime', 'native/kernels', 'native/backends', 'native/microkernels', 'native/export', 'native/addon'];

function walk(dir, out) {
  if (!fs.existsSync(path.join(root, dir))) return out;
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) walk(rel, out);
    else if (/\.(cpp|cc)$/.test(entry.name)) out.push(rel);
  }
  return out;
}

const sources = folders.flatMap((f) => walk(f, []));
process.stdout.write(sources.join('\n') + '\n');
