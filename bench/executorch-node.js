'use strict';
// Worker: our runtime (the built package in dist/) on the optimum-executorch 8da4w .pte.
// Spec: { modelPath, threads, promptTokens, decodeTokens, vocabSize }.
const path = require('path');
const { workerMain } = require('./workload');

const { ExecuTorchModelForCausalLM } = require(path.join(__dirname, '..', 'dist', 'index.js'));

/** Index of the largest value in row `row` of [.., V] float32 logits (first max wins). */
function argmax(logits, row) {
  const vocab = logits.shape[logits.shape.length - 1];
  const data = logits.data;
  let best = 0;
  for (let i = 1, base = row * vocab; i < vocab; i++) if (data[base + i] > data[base + best]) best = i;
  return best;
}

function makeEngine(spec) {
  let model;
  let pos = 0; // next cache position
  let last;
  return {
    async load() {
      model = await ExecuTorchModelForCausalLM.fromPretrained(spec.modelPath, { threads: spec.threads });
      // Builds the method (delegate init, weight packing) so that load time includes it.
      await model.program.loadMethod('forward');
      if (spec.promptTokens > model.maxPrefillTokens)
        throw new Error(`prompt of ${spec.promptTokens} tokens exceeds the program's prefill bound ${model.maxPrefillTokens}`);
    },
    // The KV cache needs no clearing: starting again at position 0 overwrites it, and the
    // custom SDPA only attends up to the current position.
    async reset() {
      pos = 0;
    },
    async prefill(tokens) {
      await model.forward(tokens, 0);
      pos = tokens.length;
    },
    async start(tokens) {
      const logits = await model.forward(tokens, 0);
      pos = tokens.length;
      last = argmax(logits, tokens.length - 1); // the program returns logits for every position
      return last;
    },
    async next() {
      const logits = await model.forward([last], pos++);
      last = argmax(logits, 0);
      return last;
    },
    async dispose() {
      model.dispose();
    },
  };
}

workerMain(makeEngine);
