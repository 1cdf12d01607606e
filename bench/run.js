#!/usr/bin/env node
'use strict';
// `npm run bench`: executorch-node vs node-llama-cpp on the same random-weight 1.1B Llama.
// Every configuration runs in its own child process (so peak RSS is its own), interleaved with the
// peer and with bandwidth measurements, because the machine is shared and noisy. See bench/README.md.
//
// Options: --reps N (3)  --threads 1,2  --prompt 128  --decode 64  --peer Q4_0,Q8_0 (F16, or none)
//          --json FILE (raw runs)  --timeout SECONDS per child (600)
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const bandwidth = require('./bandwidth');
const paths = require('./paths');
const report = require('./report');
const { RESULT_PREFIX } = require('./workload');

const DEFAULT_PEER_FORMATS = 'Q4_0,Q8_0';

function options() {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string', default: '3' },
      threads: { type: 'string', default: '1,2' },
      prompt: { type: 'string', default: '128' },
      decode: { type: 'string', default: '64' },
      peer: { type: 'string' },
      json: { type: 'string' },
      timeout: { type: 'string', default: '600' },
    },
  });
  return {
    reps: Number(values.reps),
    threads: values.threads.split(',').map(Number),
    promptTokens: Number(values.prompt),
    decodeTokens: Number(values.decode),
    peer: values.peer,
    json: values.json,
    timeoutMs: Number(values.timeout) * 1e3,
  };
}

/** The engines to compare: ours first, then one llama.cpp engine per GGUF format asked for. */
function engines(manifest, opts) {
  const list = [
    { id: 'ours', short: 'ours', label: `executorch-node ${manifest.pte.qlinear}`, worker: 'executorch-node.js',
      modelPath: manifest.pte.path, streamedBytesPerToken: manifest.pte.streamedBytesPerToken },
  ];
  if (opts.peer === 'none') return list;
  const peerDir = paths.findPeer();
  if (!peerDir) {
    console.log(`node-llama-cpp not found: the peer is skipped. Install it (outside this package) with:\n  ${paths.peerInstallHint()}\n`);
    return list;
  }
  const formats = (opts.peer ?? DEFAULT_PEER_FORMATS).split(',');
  for (const fmt of formats) {
    const g = manifest.gguf?.[fmt];
    if (!g || !fs.existsSync(g.path)) {
      const msg = `no ${fmt} GGUF in ${paths.benchDir()}; make it with: ${paths.MAKE_MODEL_COMMAND} --formats ${fmt}`;
      if (opts.peer) throw new Error(msg); // asked for explicitly
      console.log(`${msg}\n(skipped)\n`);
      continue;
    }
    list.push({ id: fmt, short: fmt, label: `llama.cpp ${fmt}`, worker: 'llama-cpp.js', modelPath: g.path,
      streamedBytesPerToken: g.streamedBytesPerToken, peerDir });
  }
  return list;
}

/** Runs one worker in a child process; resolves to its result or { error }. */
function runChild(engine, spec, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(__dirname, engine.worker), JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code === 0 && line) return resolve(JSON.parse(line.slice(RESULT_PREFIX.length)));
      const why = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ' (timeout?)' : ''}` : `exit code ${code}`;
      resolve({ error: `${why}: ${(stderr || stdout).trim().split('\n').slice(-15).join('\n')}` });
    });
  });
}

function progressLine(rep, engine, threads, r) {
  const head = `[rep ${rep}] ${engine.label.padEnd(22)} t=${threads}`;
  if (r.error) return `${head}  FAILED: ${r.error}`;
  return (
    `${head}  load ${(r.loadMs / 1e3).toFixed(2)} s, prefill ${r.prefillTokPerS.toFixed(1)} tok/s, ` +
    `TTFT ${r.ttftMs.toFixed(0)} ms (first call ${r.ttftFirstMs.toFixed(0)}), decode ${r.decodeTokPerS.toFixed(1)} tok/s, ` +
    `peak RSS ${(r.peakRssBytes / 1e6).toFixed(0)} MB`
  );
}

function measureBandwidth(rep) {
  if (!bandwidth.available()) return null;
  const bw = bandwidth.measure();
  const s = Object.entries(bw).map(([t, b]) => `${t} thread(s) read ${b.readGBps} GB/s, qb4w GEMV ${b.qb4wColdGBps} GB/s`);
  console.log(`[rep ${rep}] bandwidth: ${s.join('; ')}`);
  return bw;
}

/**
 * The first greedy tokens of each engine, to compare with tools/interop/bench/check_greedy.py:
 * ours should equal the official ExecuTorch runtime, llama.cpp F16/Q8_0 transformers eager.
 */
function greedyTokensReport(list, runs) {
  const lines = ['first 8 greedy tokens (check_greedy.py prints the references):'];
  for (const e of list) {
    const seqs = runs.filter((r) => r.engine === e.id && !r.error).map((r) => r.tokens.slice(0, 8).join(', '));
    if (seqs.length === 0) continue;
    const same = seqs.every((s) => s === seqs[0]) ? 'same in every run' : 'DIFFERS between runs';
    lines.push(`  ${e.label.padEnd(22)} [${seqs[0]}]  (${same})`);
  }
  return lines.join('\n') + '\n';
}

async function main() {
  const opts = options();
  const manifest = paths.loadManifest();
  const list = engines(manifest, opts);
  const vocabSize = manifest.config.vocab_size;
  const contextSize = manifest.pte.maxSeqLen;
  if (!bandwidth.available())
    console.log(`${paths.microkernelBinary()} not found (node scripts/build-native.js builds it): no bandwidth figures.\n`);
  console.log(
    `model: ${manifest.name}, ${(manifest.parameters / 1e9).toFixed(2)}B parameters, random weights (seed ${manifest.seed}); ` +
      `prompt ${opts.promptTokens} tokens, decode ${opts.decodeTokens} tokens (greedy), ${opts.reps} repetitions\n`,
  );

  const runs = [];
  const bandwidths = [];
  for (let rep = 1; rep <= opts.reps; rep++) {
    const bw = measureBandwidth(rep);
    if (bw) bandwidths.push(bw);
    // A B A B within a repetition, reversed every other repetition so neither side always goes first.
    const order = rep % 2 ? list : [...list].reverse();
    for (const threads of opts.threads) {
      for (const engine of order) {
        const spec = { modelPath: engine.modelPath, threads, promptTokens: opts.promptTokens,
          decodeTokens: opts.decodeTokens, vocabSize, contextSize, peerDir: engine.peerDir };
        const r = await runChild(engine, spec, opts.timeoutMs);
        console.log(progressLine(rep, engine, threads, r));
        runs.push({ rep, engine: engine.id, threads, streamedBytesPerToken: engine.streamedBytesPerToken,
          readGBps: bw?.[threads]?.readGBps ?? null, ...r });
      }
    }
  }

  console.log('');
  for (const threads of opts.threads) {
    const bwLine = bandwidths.length
      ? `read bandwidth ${report.median(bandwidths.map((b) => b[threads]?.readGBps))?.toFixed(1)} GB/s, ` +
        `our qb4w GEMV from DRAM ${report.median(bandwidths.map((b) => b[threads]?.qb4wColdGBps))?.toFixed(1)} GB/s (medians)`
      : 'read bandwidth not measured';
    const summaries = Object.fromEntries(list.map((e) => [e.id, report.summarize(runs.filter((r) => r.engine === e.id && r.threads === threads))]));
    console.log(report.table(threads, list, summaries));
    console.log(`  ${bwLine}\n`);
  }
  console.log(greedyTokensReport(list, runs));
  for (const r of runs.filter((x) => x.error)) console.log(`failure (rep ${r.rep}, ${r.engine}, t=${r.threads}):\n${r.error}\n`);
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify({ manifest, options: opts, bandwidths, runs }, null, 2));
}

main().catch((err) => {
  console.error(err.message ?? err);
  process.exit(1);
});
