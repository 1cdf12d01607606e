'use strict';
// The Debian packages the native build needs, and how to tell they are there.
const fs = require('fs');

const PACKAGES = ['libxnnpack-dev', 'libpthreadpool-dev', 'libflatbuffers-dev', 'flatbuffers-compiler', 'cmake'];

const INCLUDE_DIRS = ['/usr/include', '/usr/local/include'];
const BIN_DIRS = (process.env.PATH || '').split(':').filter(Boolean);

function hasHeader(rel) {
  return INCLUDE_DIRS.some((d) => fs.existsSync(`${d}/${rel}`));
}
function hasProgram(name) {
  return BIN_DIRS.some((d) => fs.existsSync(`${d}/${name}`));
}

// Returns the packages whose files are missing.
function missingPackages() {
  const missing = [];
  if (!hasHeader('xnnpack.h')) missing.push('libxnnpack-dev');
  if (!hasHeader('pthreadpool.h')) missing.push('libpthreadpool-dev');
  if (!hasHeader('flatbuffers/flatbuffers.h')) missing.push('libflatbuffers-dev');
  if (!hasProgram('flatc')) missing.push('flatbuffers-compiler');
  if (!hasProgram('cmake')) missing.push('cmake');
  return missing;
}

module.exports = { PACKAGES, missingPackages };
