'use strict';
// Weight-only int8 linears (XNNPACK FullyConnected fp32 x qcint8, our f32_qc8w
// microkernels) against the same shapes in f32 (XNNPACK's f32 fully connected), run
// through whole programs: Program.load + execute, so each call includes the addon's
// per-call overhead (worker hop, delegate binding).
//
//   node bench/f32-qc8w-fc.js            (needs `npx tsc -p .` and `npm run build:native`)
//
// Each program holds LAYERS independent FullyConnected nodes reading the same input
// (distinct random weights: LAYERS x the matrix, more than the L3 cache), so every
// call streams all weights from DRAM like a decoder step does; times are per layer.
// Weight GB/s counts the bytes each layer must read (int8: 1 byte per weight + 8 bytes
// per channel; f32: 4 bytes per weight). The two formats are measured interleaved
// (A/B per round, best round kept) since other load on this VM moves both together.
const { Program, Tensor } = require('../dist');
const { writeProgramToBytes } = require('../dist/export/pte/program-writer');
const { xnnpackDelegate } = require('../dist/export/pte/xnnpack-writer');

const LAYERS = 8;
const SHAPES = [
  [5632, 2048],
  [2048, 2048],
];
const ROWS = [1, 64];
const THREADS = [1, 2];

function random(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const bytesOf = (f) => new Uint8Array(f.buffer, f.byteOffset, f.byteLength);

async function buildProgram(format, n, k, rows) {
  const values = [{ datatype: 'fp32', dims: [rows, k], external: { id: 0, kind: 'input' } }];
  const nodes = [];
  for (let l = 0; l < LAYERS; l++) {
    const w = random(n * k, 1000 + l);
    const bias = random(n, 2000 + l);
    const filterId = values.length;
    if (format === 'f32') {
      values.push({ datatype: 'fp32', dims: [n, k], constant: bytesOf(w) });
    } else {
      const q = new Int8Array(n * k);
      for (let i = 0; i < q.length; i++) q[i] = Math.round(w[i] * 127);
      const scales = new Float32Array(n).fill(1 / 127);
      values.push({ datatype: 'qcint8', dims: [n, k], constant: bytesOf(q), quant: { kind: 'perChannel', channelDim: 0, scales } });
    }
    values.push({ datatype: 'fp32', dims: [n], constant: bytesOf(bias) });
    values.push({ datatype: 'fp32', dims: [rows, n], external: { id: 1 + l, kind: 'output' } });
    nodes.push({ op: 'FullyConnected', input1Id: 0, filterId, biasId: filterId + 1, outputId: filterId + 2 });
  }
  const { delegate, namedData } = xnnpackDelegate({ values, nodes });
  const outBytes = rows * n * 4;
  const planned = [{ kind: 'tensor', tensor: { dtype: 'float32', sizes: [rows, k] } }];
  for (let l = 0; l < LAYERS; l++)
    planned.push({ kind: 'tensor', tensor: { dtype: 'float32', sizes: [rows, n], allocation: { memoryId: 1, offset: l * outBytes } } });
  const args = planned.map((_, i) => i);
  return writeProgramToBytes({
    constants: [],
    namedData,
    methods: [
      {
        name: 'forward',
        values: planned,
        inputs: [0],
        outputs: args.slice(1),
        operators: [],
        delegates: [delegate],
        chains: [{ inputs: [0], outputs: args.slice(1), instructions: [{ kind: 'delegate', delegate: 0, args }] }],
        nonConstBufferSizes: [0, LAYERS * outBytes],
      },
    ],
  });
}

async function timeCalls(program, input, seconds) {
  for (let i = 0; i < 3; i++) await program.execute('forward', [input]);
  let best = Infinity;
  const start = process.hrtime.bigint();
  let calls = 0;
  while (calls < 5 || Number(process.hrtime.bigint() - start) / 1e9 < seconds) {
    const t0 = process.hrtime.bigint();
    await program.execute('forward', [input]);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
    calls++;
  }
  return best / LAYERS; // ms per layer
}

async function main() {
  console.log(`per FullyConnected layer (best call / ${LAYERS} layers), weights streamed from DRAM`);
  console.log('shape        M  thr | qc8w ms  GB/s  GFLOP/s | f32 ms   GB/s  GFLOP/s | f32/qc8w time');
  for (const [n, k] of SHAPES) {
    for (const rows of ROWS) {
      const bytes = { qc8w: await buildProgram('qc8w', n, k, rows), f32: await buildProgram('f32', n, k, rows) };
      const input = new Tensor(random(rows * k, 7), [rows, k]);
      for (const threads of THREADS) {
        const programs = { qc8w: await Program.load(bytes.qc8w, { threads }), f32: await Program.load(bytes.f32, { threads }) };
        const best = { qc8w: Infinity, f32: Infinity };
        for (let round = 0; round < 3; round++)
          for (const f of ['qc8w', 'f32']) best[f] = Math.min(best[f], await timeCalls(programs[f], input, 0.7));
        for (const p of Object.values(programs)) p.dispose();
        const weightBytes = { qc8w: n * k + 8 * n, f32: 4 * n * k + 4 * n };
        const gbps = (f) => (weightBytes[f] / (best[f] / 1e3) / 1e9).toFixed(1).padStart(5);
        const gflops = (f) => ((2 * rows * n * k) / (best[f] / 1e3) / 1e9).toFixed(1).padStart(6);
        console.log(
          `[${n}, ${k}]`.padEnd(12) +
            `${String(rows).padStart(3)} ${String(threads).padStart(4)} | ` +
            `${best.qc8w.toFixed(3).padStart(7)} ${gbps('qc8w')} ${gflops('qc8w')} | ` +
            `${best.f32.toFixed(3).padStart(7)} ${gbps('f32')} ${gflops('f32')} | ${(best.f32 / best.qc8w).toFixed(2)}x`,
        );
      }
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
