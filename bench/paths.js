'use strict';
// Where the benchmark finds its inputs: the model files made by tools/interop/bench and the peer
// runtime (node-llama-cpp), which is deliberately not a dependency of this package.
const fs = require('fs');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..');
const MAKE_MODEL_COMMAND = '/root/interop-venv/bin/python tools/interop/bench/make_bench_model.py';
const PEER_PACKAGE = 'node-llama-cpp@3.21.1';

function benchDir() {
  return process.env.EXECUTORCH_NODE_BENCH_DIR || path.join(os.homedir(), '.cache', 'executorch-node-bench');
}

/** The manifest written by make_bench_model.py, with absolute paths; throws a how-to if absent. */
function loadManifest() {
  const dir = benchDir();
  const file = path.join(dir, 'llama1b.json');
  const howTo =
    `Create the models first (several minutes, ~12 GB RAM; see bench/README.md), from ${REPO}:\n` +
    `  ${MAKE_MODEL_COMMAND}\n` +
    `(they go to ${dir}; set EXECUTORCH_NODE_BENCH_DIR to use another folder). The Python venv is the one of\n` +
    `tools/interop/README.md plus tools/interop/llm/requirements.txt and tools/interop/bench/requirements.txt.`;
  if (!fs.existsSync(file)) throw new Error(`benchmark model manifest not found: ${file}\n${howTo}`);
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  const pte = manifest.pte && path.join(dir, manifest.pte.file);
  if (!pte || !fs.existsSync(pte)) throw new Error(`benchmark model not found: ${pte ?? '(no .pte in manifest)'}\n${howTo}`);
  manifest.pte.path = pte;
  for (const g of Object.values(manifest.gguf ?? {})) g.path = path.join(dir, g.file);
  return manifest;
}

/**
 * Folder holding node_modules/node-llama-cpp: $EXECUTORCH_NODE_BENCH_PEER, <bench dir>/peer, or
 * this repository (after `npm install --no-save`). Returns null when none has it.
 */
function findPeer() {
  const candidates = [process.env.EXECUTORCH_NODE_BENCH_PEER, path.join(benchDir(), 'peer'), REPO].filter(Boolean);
  return candidates.find((d) => fs.existsSync(path.join(d, 'node_modules', 'node-llama-cpp', 'package.json'))) ?? null;
}

function peerInstallHint() {
  const dir = path.join(benchDir(), 'peer');
  return `mkdir -p ${dir} && cd ${dir} && npm init -y && npm install ${PEER_PACKAGE}`;
}

/** The microkernel test binary built by `node scripts/build-native.js`; its --bench mode measures read bandwidth. */
function microkernelBinary() {
  return path.join(REPO, 'build', 'Release', 'etn_microkernel_tests');
}

module.exports = { REPO, MAKE_MODEL_COMMAND, benchDir, loadManifest, findPeer, peerInstallHint, microkernelBinary, PEER_PACKAGE };
