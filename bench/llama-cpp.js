'use strict';
// Worker: the peer, node-llama-cpp (llama.cpp, CPU build), on a GGUF of the same weights.
// Spec: { modelPath, threads, promptTokens, decodeTokens, vocabSize, peerDir, contextSize }.
// Weights are read into memory (useMmap: false) like ours are packed into memory; greedy sampling.
const path = require('path');
const { pathToFileURL } = require('url');
const { workerMain } = require('./workload');

async function importPeer(peerDir) {
  // node-llama-cpp is ESM-only and lives outside this package: import its entry point by path.
  const pkgDir = path.join(peerDir, 'node_modules', 'node-llama-cpp');
  const entry = require(path.join(pkgDir, 'package.json')).exports['.'].import;
  return import(pathToFileURL(path.join(pkgDir, entry)).href);
}

function makeEngine(spec) {
  let llama, model, context, sequence, iterator;
  return {
    // Loading the shared library is not model loading (our equivalent is require() of the addon).
    async init() {
      const { getLlama, LlamaLogLevel } = await importPeer(spec.peerDir);
      llama = await getLlama({ gpu: false, build: 'never', maxThreads: spec.threads, logLevel: LlamaLogLevel.error });
    },
    async load() {
      model = await llama.loadModel({ modelPath: spec.modelPath, useMmap: false, gpuLayers: 0 });
      context = await model.createContext({
        contextSize: spec.contextSize,
        batchSize: spec.promptTokens,
        threads: { ideal: spec.threads, min: spec.threads },
      });
      sequence = context.getSequence();
    },
    async reset() {
      await iterator?.return();
      iterator = undefined;
      await sequence.clearHistory();
    },
    async prefill(tokens) {
      await sequence.evaluateWithoutGeneratingNewTokens(tokens);
    },
    async start(tokens) {
      // temperature 0 = greedy; keep going past an end-of-generation token (random weights).
      iterator = sequence.evaluate(tokens, { temperature: 0, yieldEogToken: true });
      return this.next();
    },
    async next() {
      const { value, done } = await iterator.next();
      if (done) throw new Error('node-llama-cpp stopped generating (context full?)');
      return value;
    },
    async dispose() {
      await iterator?.return();
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

workerMain(makeEngine);
