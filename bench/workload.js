'use strict';
// What every worker does, whatever the runtime: the same prompt, the same phases, the same clock.
// A worker gets a spec as JSON in argv[2] and prints one line `RESULT <json>` on stdout.
const fs = require('fs');

const RESULT_PREFIX = 'RESULT ';
const WARMUP_DECODE_TOKENS = 8;

/** A fixed prompt of `length` token ids, spread over the vocabulary, avoiding the 3 special ids. */
function promptTokens(length, vocabSize) {
  // A 32-bit LCG computed exactly (Math.imul), so other languages can regenerate the prompt:
  // x = (x * 1103515245 + 12345) mod 2^32, token = 3 + x mod (vocabSize - 3).
  let x = 12345;
  return Array.from({ length }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return 3 + (x % (vocabSize - 3));
  });
}

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Peak resident set size of this process in bytes (VmHWM), as the kernel counts it. */
function peakRssBytes() {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : null;
}

/**
 * Runs the phases on an engine adapter:
 *   init()                          -> optional, not timed: loads the runtime's library
 *   load()                          -> engine ready (timed: load)
 *   reset()                         -> empty KV state
 *   prefill(tokens)                 -> consumes the prompt, no token chosen (timed: prefill)
 *   start(tokens) -> first token    -> prefill + greedy choice (timed: TTFT)
 *   next() -> token                 -> one decode step (timed: decode)
 * The first start() after load is reported apart (ttftFirstMs): it pays one-time costs
 * (lazy weight packing, allocation, page faults). The measured passes come after a warm-up.
 */
async function runWorkload(engine, spec) {
  const prompt = promptTokens(spec.promptTokens, spec.vocabSize);
  await engine.init?.();
  let t = nowMs();
  await engine.load();
  const loadMs = nowMs() - t;

  // Warm-up pass: first call + a few decode steps.
  t = nowMs();
  await engine.start(prompt);
  const ttftFirstMs = nowMs() - t;
  for (let i = 0; i < WARMUP_DECODE_TOKENS; i++) await engine.next();

  await engine.reset();
  t = nowMs();
  await engine.prefill(prompt);
  const prefillMs = nowMs() - t;

  await engine.reset();
  t = nowMs();
  const tokens = [await engine.start(prompt)];
  const ttftMs = nowMs() - t;
  t = nowMs();
  for (let i = 0; i < spec.decodeTokens; i++) tokens.push(await engine.next());
  const decodeMs = nowMs() - t;

  await engine.dispose();
  return {
    loadMs,
    ttftFirstMs,
    prefillMs,
    prefillTokPerS: (spec.promptTokens / prefillMs) * 1e3,
    ttftMs,
    decodeMs,
    decodeTokPerS: (spec.decodeTokens / decodeMs) * 1e3,
    peakRssBytes: peakRssBytes(),
    tokens: tokens.slice(0, 16),
  };
}

/** Worker entry point: parse the spec, run, print the result line; exit 1 with the error otherwise. */
function workerMain(makeEngine) {
  const spec = JSON.parse(process.argv[2]);
  Promise.resolve()
    .then(() => runWorkload(makeEngine(spec), spec))
    .then((result) => {
      process.stdout.write(RESULT_PREFIX + JSON.stringify(result) + '\n');
      process.exit(0); // some runtimes keep worker threads alive after dispose
    })
    .catch((err) => {
      process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
      process.exit(1);
    });
}

module.exports = { RESULT_PREFIX, promptTokens, workerMain };
