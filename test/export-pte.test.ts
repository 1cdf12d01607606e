// The .pte writers (lib/export/pte): programs built with writeProgram and
// writeXnnpackPayload, run in our runtime against JS references, with the file layout
// checked on the bytes. The official runtime's outputs for the same programs (made by
// tools/interop/pte_roundtrip/run_in_official.py) are compared when recorded.
import { createHash } from 'crypto';
import * as flatbuffers from 'flatbuffers';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExecuTorchError, exportToExecuTorchWithXnnpack, loadCausalLMModel, loadImageTextToTextModel, Program, Tensor, Value } from '../lib';
import { imageBlockRows, imageBlocks } from '../lib/generation/image-blocks';
import { planPrefillChunks } from '../lib/generation/prefill-chunks';
import type { QEmbeddingOption, QLinearOption } from '../lib/optimum';
import * as fb from '../lib/export/pte/generated/program_generated';
import { readExtendedHeader } from '../lib/export/pte/layout';
import { XNNGraph } from '../lib/export/pte/generated/xnnpack_generated';
import { readProgram } from '../lib/export/pte/program-reader';
import { bytesSource, ByteSource, MethodSpec, NamedDataSpec, ProgramSpec } from '../lib/export/pte/program-spec';
import { planProgram, writeProgram, writeProgramToBytes } from '../lib/export/pte/program-writer';
import { unionToXnodeUnion, XNodeUnion } from '../lib/export/pte/generated/xnnpack_generated';
import { XNN_NODE_TABLES, XnnGraphSpec, XnnNodeOp, XnnNodeSpec } from '../lib/export/pte/xnnpack-spec';
import { readXnnpackPayload, splitXnnpackPayload } from '../lib/export/pte/xnnpack-reader';
import { float32ToBf16, packInt4ForXnnpack, sha256Hex, writeXnnpackPayload, xnnpackDelegate } from '../lib/export/pte/xnnpack-writer';
import {
  FLOAT_RTOL,
  InteropFixture,
  RefTensor,
  floatCounterpart,
  floats,
  interopDir,
  interopFixtures,
  readReference,
  refTensor,
  tolerance,
} from './helpers/interop';
import { repoRoot, sharedDir } from './helpers/paths';
import { floatsOf, JsonValue, officialResult, recordRun, toJsonValue, Tolerance } from './helpers/pte-roundtrip';

// ---------------------------------------------------------------------------
// helpers

const f32 = (a: number[] | Float32Array): Uint8Array => {
  const f = Float32Array.from(a);
  return new Uint8Array(f.buffer);
};

/** Deterministic values in [-1, 1). */
function pseudoRandom(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function rootProgram(bytes: Uint8Array): fb.Program {
  return fb.Program.getRootAsProgram(new flatbuffers.ByteBuffer(bytes));
}

const readU32 = (b: Uint8Array, off: number): number => new DataView(b.buffer, b.byteOffset).getUint32(off, true);

const summary: string[] = [];

/**
 * Runs every case in our runtime, records the run for the official runtime, and compares
 * with the official outputs when they were recorded. Returns our outputs.
 */
async function runProgram(
  name: string,
  bytes: Uint8Array,
  cases: Array<{ method: string; inputs: Value[] }>,
  tolerance: Tolerance,
): Promise<Value[][]> {
  const program = await Program.load(bytes);
  const outs: Value[][] = [];
  try {
    for (const c of cases) outs.push(await program.execute(c.method, c.inputs));
  } finally {
    program.dispose();
  }
  const recorded = cases.map((c, i) => ({ method: c.method, inputs: c.inputs.map(toJsonValue), outputs: outs[i].map(toJsonValue) }));
  recordRun(name, bytes, recorded, tolerance);
  const official = officialResult(name);
  if (!official) {
    summary.push(`${name}: no official result recorded (run tools/interop/pte_roundtrip/run_in_official.py --record)`);
    return outs;
  }
  // A record made from other bytes (the writer or the exporter changed since) is about
  // another file: noted, not asserted.
  if (createHash('sha256').update(bytes).digest('hex') !== official.sha256) {
    summary.push(`${name}: STALE record (made from other bytes; re-run tools/interop/pte_roundtrip/run_in_official.py --record)`);
    return outs;
  }
  expect(official.load.ok, `official runtime failed to load ${name}: ${official.load.error}`).toBe(true);
  expect(official.cases.length).toBe(recorded.length);
  official.cases.forEach((oc, i) => {
    expect(oc.ok, `official runtime failed ${name}.${oc.method}: ${oc.error}`).toBe(true);
    expect(oc.method).toBe(recorded[i].method);
    // Small outputs are recorded in full; LLM logits as the comparison made when recording.
    if (oc.outputs) compareValues(recorded[i].outputs, oc.outputs, tolerance, `${name}.${oc.method} case ${i}`);
    else expect(oc.withinTolerance, `${name}.${oc.method} case ${i}: official vs ours when recorded`).toBe(true);
  });
  if (official.sameAsOriginal !== undefined) expect(official.sameAsOriginal, `${name}: official outputs vs the original export's`).toBe(true);
  summary.push(`${name}: the official runtime runs this very file; outputs agree with ours (${official.cases.length} cases)`);
  return outs;
}

function compareValues(ours: JsonValue[], theirs: JsonValue[], tol: Tolerance, what: string): void {
  expect(ours.length, `${what}: output count`).toBe(theirs.length);
  ours.forEach((o, k) => {
    const t = theirs[k];
    if (o.type === 'tensor' && t.type === 'tensor') {
      expect(o.shape, `${what} output ${k} shape`).toEqual(t.shape);
      expect(o.dtype).toBe(t.dtype);
      if (o.dtype !== 'float32') return expect(o.data, `${what} output ${k}`).toBe(t.data);
      const a = floatsOf(o);
      const b = floatsOf(t);
      const scale = b.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      expect(worst, `${what} output ${k}: max |ours - official|`).toBeLessThanOrEqual(tol.rtol * scale + (tol.atol ?? 0));
      return;
    }
    // Scalars: Python tells int from double; JS numbers do not.
    if ('value' in o && 'value' in t) return expect(o.value, `${what} output ${k}`).toEqual(t.value);
    expect(o, `${what} output ${k}`).toEqual(t);
  });
}

afterAll(() => {
  if (summary.length) console.log(`official runtime comparison:\n  ${summary.join('\n  ')}`);
});

function method(m: Partial<MethodSpec> & Pick<MethodSpec, 'name' | 'values'>): MethodSpec {
  return {
    inputs: [],
    outputs: [],
    chains: [],
    operators: [],
    delegates: [],
    nonConstBufferSizes: [0],
    ...m,
  };
}

// ---------------------------------------------------------------------------
// (a) portable kernels, constants in the constant segment, a planned intermediate

const C1 = [0.5, -1.25, 2];
const C2 = [1, 2, 3, -4, 0.25, 10];

function portableSpec(dynamic = false): ProgramSpec {
  const dyn = dynamic ? ('dynamic_bound' as const) : ('static' as const);
  const rows = dynamic ? 4 : 2;
  // Dynamic: c2 is [1, 3], broadcast over the rows.
  const c2: number[] = dynamic ? C2.slice(0, 3) : C2;
  return {
    constants: [bytesSource(new Uint8Array(0)), bytesSource(f32(C1)), bytesSource(f32(c2))],
    namedData: [],
    methods: [
      method({
        name: 'forward',
        values: [
          { kind: 'tensor', tensor: { dtype: 'float32', sizes: [rows, 3], dynamism: dyn } }, // 0 x (caller's memory)
          { kind: 'tensor', tensor: { dtype: 'float32', sizes: [3], constant: 1 } }, // 1 c1 (12 bytes)
          { kind: 'tensor', tensor: { dtype: 'float32', sizes: [dynamic ? 1 : 2, 3], constant: 2 } }, // 2 c2
          { kind: 'int', value: 2 }, // 3 alpha
          { kind: 'tensor', tensor: { dtype: 'float32', sizes: [rows, 3], dynamism: dyn, allocation: { memoryId: 1, offset: 0 } } }, // 4 t
          { kind: 'tensor', tensor: { dtype: 'float32', sizes: [rows, 3], dynamism: dyn, allocation: { memoryId: 1, offset: 64 } } }, // 5 y
        ],
        inputs: [0],
        outputs: [5],
        operators: [
          { name: 'aten::add', overload: 'out' },
          { name: 'aten::mul', overload: 'out' },
        ],
        chains: [
          {
            inputs: [0],
            outputs: [5],
            instructions: [
              { kind: 'kernel', op: 0, args: [0, 1, 3, 4, 4] }, // t = x + 2 * c1
              { kind: 'kernel', op: 1, args: [4, 2, 5, 5] }, // y = t * c2
            ],
          },
        ],
        nonConstBufferSizes: [0, 128],
      }),
    ],
  };
}

function portableReference(x: Float32Array, rows: number, dynamic = false): Float32Array {
  const y = new Float32Array(rows * 3);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < 3; j++) {
      const t = Math.fround(x[i * 3 + j] + Math.fround(2 * C1[j]));
      y[i * 3 + j] = Math.fround(t * C2[dynamic ? j : i * 3 + j]);
    }
  return y;
}

describe('portable program (aten::add.out, aten::mul.out, constant segment, planned memory)', () => {
  it('runs and matches a JS reference', async () => {
    const bytes = await writeProgramToBytes(portableSpec());
    const x = pseudoRandom(6, 1);
    const [[y]] = await runProgram('portable_add_mul', bytes, [{ method: 'forward', inputs: [new Tensor(x, [2, 3])] }], { rtol: 1e-6 });
    expect((y as Tensor).shape).toEqual([2, 3]);
    const ref = portableReference(x, 2);
    const got = (y as Tensor).data as Float32Array;
    for (let i = 0; i < 6; i++) expect(got[i]).toBeCloseTo(ref[i], 6);
  });

  it('lays out the header, segments and constants as the official serializer', async () => {
    const spec = portableSpec();
    const bytes = await writeProgramToBytes(spec);
    const layout = planProgram(spec);
    expect(Buffer.from(bytes.subarray(4, 8)).toString()).toBe('ET12');
    const eh = readExtendedHeader(bytes)!;
    expect(eh).not.toBeNull();
    expect(eh.length).toBe(32);
    expect(eh.programSize).toBe(layout.programSize);
    expect(eh.segmentBaseOffset % 128).toBe(0);
    expect(eh.segmentBaseOffset).toBe(Math.ceil(eh.programSize / 128) * 128);
    expect(eh.segmentBaseOffset - eh.programSize).toBeLessThan(128);
    expect(bytes.length).toBe(eh.segmentBaseOffset + eh.segmentDataSize);
    // The root table lies after the 40 header bytes, inside the program.
    const root = readU32(bytes, 0);
    expect(root).toBeGreaterThanOrEqual(40);
    expect(root).toBeLessThan(eh.programSize);
    // Padding between the program and the first segment is zero.
    expect(bytes.subarray(eh.programSize, eh.segmentBaseOffset).every((b) => b === 0)).toBe(true);

    const p = rootProgram(bytes);
    expect(p.version()).toBe(0);
    expect(p.segmentsLength()).toBe(1);
    const seg = p.segments(0)!;
    expect(Number(seg.offset())).toBe(0);
    // c1: 12 bytes + 4 padding, c2: 24 bytes (last: unpadded).
    expect(Number(seg.size())).toBe(16 + 24);
    expect(p.constantSegment()!.segmentIndex()).toBe(0);
    const cs = p.constantSegment()!;
    expect(Array.from({ length: cs.offsetsLength() }, (_, i) => Number(cs.offsets(i)))).toEqual([0, 0, 16]);
    expect(layout.constantOffsets).toEqual([0, 0, 16]);
    const base = eh.segmentBaseOffset;
    expect(Buffer.from(bytes.subarray(base, base + 12))).toEqual(Buffer.from(f32(C1)));
    expect(Array.from(bytes.subarray(base + 12, base + 16))).toEqual([0, 0, 0, 0]);
    expect(Buffer.from(bytes.subarray(base + 16, base + 40))).toEqual(Buffer.from(f32(C2)));

    const plan = p.executionPlan(0)!;
    expect(plan.name()).toBe('forward');
    expect(Array.from({ length: plan.nonConstBufferSizesLength() }, (_, i) => Number(plan.nonConstBufferSizes(i)))).toEqual([0, 128]);
    const t = plan.values(5)!.val(new fb.Tensor()) as fb.Tensor;
    expect(t.allocationInfo()!.memoryId()).toBe(1);
    expect(t.allocationInfo()!.memoryOffsetLow()).toBe(64);
    expect(Array.from(t.dimOrderArray()!)).toEqual([0, 1]);
    const c = plan.values(2)!.val(new fb.Tensor()) as fb.Tensor;
    expect(c.dataBufferIdx()).toBe(2);
    expect(c.allocationInfo()).toBeNull();
    const ins = plan.chains(0)!.instructions(0)!;
    expect(ins.instrArgsType()).toBe(fb.InstructionArguments.KernelCall);
    expect(Array.from((ins.instrArgs(new fb.KernelCall()) as fb.KernelCall).argsArray()!)).toEqual([0, 1, 3, 4, 4]);
    expect(plan.containerMetaType()!.encodedOutStr()).toBe('[1, {"type": null, "context": null, "children_spec": []}]');
  });

  it('splits memory offsets beyond 4 GiB into memory_offset_low/high', async () => {
    const big = 5 * 2 ** 32 + 48;
    const spec: ProgramSpec = {
      constants: [],
      namedData: [],
      methods: [
        method({
          name: 'forward',
          values: [{ kind: 'tensor', tensor: { dtype: 'float32', sizes: [2], allocation: { memoryId: 1, offset: big } } }],
          outputs: [0],
          chains: [{ inputs: [], outputs: [0], instructions: [] }],
          nonConstBufferSizes: [0, big + 8],
        }),
      ],
    };
    const bytes = await writeProgramToBytes(spec);
    // No segment data: a plain flatbuffer, no eh00 header; still one (empty) constant segment.
    expect(readExtendedHeader(bytes)).toBeNull();
    const p = rootProgram(bytes);
    expect(p.segmentsLength()).toBe(1);
    expect(Number(p.segments(0)!.size())).toBe(0);
    const t = p.executionPlan(0)!.values(0)!.val(new fb.Tensor()) as fb.Tensor;
    expect(t.allocationInfo()!.memoryOffsetLow()).toBe(48);
    expect(t.allocationInfo()!.memoryOffsetHigh()).toBe(5);
    expect(Number(p.executionPlan(0)!.nonConstBufferSizes(1))).toBe(big + 8);
  });
});

// ---------------------------------------------------------------------------
// (b) constant methods

describe('constant methods', () => {
  it('returns Int, Bool, Double and String values', async () => {
    const constant = (name: string, values: MethodSpec['values']): MethodSpec =>
      method({ name, values, outputs: values.map((_, i) => i), chains: [{ inputs: [], outputs: values.map((_, i) => i), instructions: [] }] });
    const spec: ProgramSpec = {
      constants: [],
      namedData: [],
      methods: [
        constant('get_max_seq_len', [{ kind: 'int', value: 2048 }]),
        constant('use_kv_cache', [{ kind: 'bool', value: true }]),
        constant('get_head_dim', [{ kind: 'double', value: 2.5 }]),
        constant('modality', [{ kind: 'string', value: 'vision' }]),
        constant('get_eos_ids', [{ kind: 'int', value: 1 }, { kind: 'int', value: 106n }]),
        constant('big_int', [{ kind: 'int', value: 2n ** 40n + 3n }]),
      ],
    };
    const bytes = await writeProgramToBytes(spec);
    const outs = await runProgram(
      'constant_methods',
      bytes,
      spec.methods.map((m) => ({ method: m.name, inputs: [] })),
      { rtol: 0 },
    );
    expect(outs).toEqual([[2048], [true], [2.5], ['vision'], [1, 106], [2 ** 40 + 3]]);
    const p = rootProgram(bytes);
    expect(p.executionPlan(0)!.containerMetaType()!.encodedInpStr()).toBe('');
    expect(p.executionPlan(4)!.containerMetaType()!.encodedOutStr()).toContain('builtins.tuple');
  });
});

// ---------------------------------------------------------------------------
// (c) XNNPACK delegate: FullyConnected f32 (weights as named data) + Add

const IC = 4;
const OC = 3;
const W = pseudoRandom(OC * IC, 7);
const B = pseudoRandom(OC, 8);

function fcAddGraph(maxRows: number): XnnGraphSpec {
  return {
    values: [
      { datatype: 'fp32', dims: [maxRows, IC], external: { id: 0, kind: 'input' } }, // 0 x
      { datatype: 'fp32', dims: [OC, IC], constant: f32(W) }, // 1 filter [OC, IC]
      { datatype: 'fp32', dims: [OC], constant: f32(B) }, // 2 bias
      { datatype: 'fp32', dims: [maxRows, OC] }, // 3 t
      { datatype: 'fp32', dims: [maxRows, OC], external: { id: 1, kind: 'input' } }, // 4 r
      { datatype: 'fp32', dims: [maxRows, OC], external: { id: 2, kind: 'output' } }, // 5 out
    ],
    nodes: [
      { op: 'FullyConnected', input1Id: 0, filterId: 1, biasId: 2, outputId: 3 },
      { op: 'Add', input1Id: 3, input2Id: 4, outputId: 5 },
    ],
  };
}

function fcAddMethod(name: string, maxRows: number, dynamic: boolean, delegate: ReturnType<typeof xnnpackDelegate>['delegate']): MethodSpec {
  const dynamism = dynamic ? ('dynamic_bound' as const) : ('static' as const);
  return method({
    name,
    values: [
      { kind: 'tensor', tensor: { dtype: 'float32', sizes: [maxRows, IC], dynamism } },
      { kind: 'tensor', tensor: { dtype: 'float32', sizes: [maxRows, OC], dynamism } },
      { kind: 'tensor', tensor: { dtype: 'float32', sizes: [maxRows, OC], dynamism, allocation: { memoryId: 1, offset: 0 } } },
    ],
    inputs: [0, 1],
    outputs: [2],
    delegates: [delegate],
    chains: [{ inputs: [0, 1], outputs: [2], instructions: [{ kind: 'delegate', delegate: 0, args: [0, 1, 2] }] }],
    nonConstBufferSizes: [0, maxRows * OC * 4],
  });
}

function fcAddReference(x: Float32Array, r: Float32Array, rows: number): Float32Array {
  const out = new Float32Array(rows * OC);
  for (let i = 0; i < rows; i++)
    for (let o = 0; o < OC; o++) {
      let s = B[o];
      for (let k = 0; k < IC; k++) s += x[i * IC + k] * W[o * IC + k];
      out[i * OC + o] = s + r[i * OC + o];
    }
  return out;
}

function expectClose(got: Float32Array, ref: Float32Array, tol: number, what: string): void {
  expect(got.length, what).toBe(ref.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]));
  expect(worst, `${what}: max |got - ref|`).toBeLessThanOrEqual(tol);
}

describe('XNNPACK delegate (FullyConnected f32 + Add, weights as named data)', () => {
  it('writes the XH00 header, an XN01 graph and sha256-keyed named data', () => {
    const { payload, namedData, numExterns } = writeXnnpackPayload(fcAddGraph(2));
    const dv = new DataView(payload.buffer, payload.byteOffset);
    expect(Array.from(payload.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    expect(Buffer.from(payload.subarray(4, 8)).toString()).toBe('XH00');
    expect(dv.getUint16(8, true)).toBe(30);
    expect(dv.getUint32(10, true)).toBe(32);
    const fbSize = dv.getUint32(14, true);
    expect(dv.getUint32(18, true)).toBe(32 + Math.ceil(fbSize / 16) * 16);
    expect(dv.getBigUint64(22, true)).toBe(0n);
    expect(payload.length).toBe(32 + Math.ceil(fbSize / 16) * 16);
    expect(Array.from(payload.subarray(30, 32))).toEqual([0, 0]);
    expect(Buffer.from(payload.subarray(32 + 4, 32 + 8)).toString()).toBe('XN01');
    expect(numExterns).toBe(3);
    expect(namedData.map((n) => n.key)).toEqual([sha256Hex(f32(W)), sha256Hex(f32(B))]);
  });

  it('runs and matches a JS reference', async () => {
    const { delegate, namedData } = xnnpackDelegate(fcAddGraph(2));
    const bytes = await writeProgramToBytes({ constants: [], namedData, methods: [fcAddMethod('forward', 2, false, delegate)] });
    const x = pseudoRandom(2 * IC, 11);
    const r = pseudoRandom(2 * OC, 12);
    const [[y]] = await runProgram('xnnpack_fc_add', bytes, [{ method: 'forward', inputs: [new Tensor(x, [2, IC]), new Tensor(r, [2, OC])] }], { rtol: 1e-5 });
    expect((y as Tensor).shape).toEqual([2, OC]);
    expectClose((y as Tensor).data as Float32Array, fcAddReference(x, r, 2), 1e-5, 'fc+add');

    // Layout: constant segment (empty), the payload, then one segment per key, all 128-aligned.
    const p = rootProgram(bytes);
    const eh = readExtendedHeader(bytes)!;
    const segs = Array.from({ length: p.segmentsLength() }, (_, i) => ({ offset: Number(p.segments(i)!.offset()), size: Number(p.segments(i)!.size()) }));
    expect(segs.length).toBe(4);
    expect(segs[0].size).toBe(0);
    for (const s of segs) expect(s.offset % 128).toBe(0);
    expect(segs[2].size).toBe(W.length * 4);
    expect(segs[3].size).toBe(B.length * 4);
    const d = p.executionPlan(0)!.delegates(0)!;
    expect(d.id()).toBe('XnnpackBackend');
    expect(d.processed()!.location()).toBe(fb.DataLocation.SEGMENT);
    expect(d.processed()!.index()).toBe(1);
    expect(p.namedDataLength()).toBe(2);
    expect(p.namedData(0)!.key()).toBe(sha256Hex(f32(W)));
    expect(p.namedData(0)!.segmentIndex()).toBe(2);
    const wAt = eh.segmentBaseOffset + segs[2].offset;
    expect(Buffer.from(bytes.subarray(wAt, wAt + W.length * 4))).toEqual(Buffer.from(f32(W)));
  });
});

// ---------------------------------------------------------------------------
// (d) dynamic shapes (DYNAMIC_BOUND), portable and XNNPACK

describe('dynamic-shape inputs', () => {
  it('runs at several sizes within the bound', async () => {
    const portable = portableSpec(true).methods[0];
    const { delegate, namedData } = xnnpackDelegate(fcAddGraph(4));
    const spec: ProgramSpec = {
      ...portableSpec(true),
      namedData,
      methods: [portable, fcAddMethod('xnnpack', 4, true, delegate)],
    };
    const bytes = await writeProgramToBytes(spec);
    const cases: Array<{ method: string; inputs: Value[] }> = [];
    for (const rows of [1, 4, 2]) {
      cases.push({ method: 'forward', inputs: [new Tensor(pseudoRandom(rows * 3, 20 + rows), [rows, 3])] });
      cases.push({
        method: 'xnnpack',
        inputs: [new Tensor(pseudoRandom(rows * IC, 30 + rows), [rows, IC]), new Tensor(pseudoRandom(rows * OC, 40 + rows), [rows, OC])],
      });
    }
    const outs = await runProgram('dynamic_shapes', bytes, cases, { rtol: 1e-5 });
    cases.forEach((c, i) => {
      const y = outs[i][0] as Tensor;
      const rows = (c.inputs[0] as Tensor).shape[0];
      if (c.method === 'forward') {
        expect(y.shape).toEqual([rows, 3]);
        expectClose(y.data as Float32Array, portableReference((c.inputs[0] as Tensor).data as Float32Array, rows, true), 1e-6, `forward rows=${rows}`);
      } else {
        expect(y.shape).toEqual([rows, OC]);
        const ref = fcAddReference((c.inputs[0] as Tensor).data as Float32Array, (c.inputs[1] as Tensor).data as Float32Array, rows);
        expectClose(y.data as Float32Array, ref, 1e-5, `xnnpack rows=${rows}`);
      }
    });
    const meta = (await Program.load(bytes)).methodMeta('forward');
    expect(meta.inputs[0]).toMatchObject({ kind: 'tensor', shape: [4, 3], dynamism: 'dynamic_bound' });
  });
});

// ---------------------------------------------------------------------------
// (e) qd8 linear: Convert fp32 -> qdint8 (per token) + FullyConnected with a qbint4 filter

const QK = 64; // input channels
const QN = 8; // output channels
const QM = 3; // rows
const GROUP = 32;

function quantizeInt4Groups(w: Float32Array): { q: Int8Array; scales: Uint16Array } {
  // Symmetric int4 per group of 32 (torchao-style scale = max|w| / 7.5 rounded to bf16; values in [-8, 7]).
  const groups = (QN * QK) / GROUP;
  const scales = new Uint16Array(groups);
  const q = new Int8Array(QN * QK);
  for (let g = 0; g < groups; g++) {
    let m = 0;
    for (let k = 0; k < GROUP; k++) m = Math.max(m, Math.abs(w[g * GROUP + k]));
    scales[g] = float32ToBf16([m / 7.5])[0];
    const s = bf16ToFloat(scales[g]);
    for (let k = 0; k < GROUP; k++) q[g * GROUP + k] = Math.max(-8, Math.min(7, Math.round(w[g * GROUP + k] / s)));
  }
  return { q, scales };
}

const bf16ToFloat = (h: number): number => new Float32Array(new Uint32Array([h << 16]).buffer)[0];

/** XNNPACK's qd8 parameters for a row (xnn_qd8_asymmetric_quantization_params), in float32. */
function qd8Row(x: Float32Array): { q: Int32Array; scale: number; zp: number } {
  const fr = Math.fround;
  let mn = 0;
  let mx = 0;
  for (const v of x) {
    mn = Math.min(mn, v);
    mx = Math.max(mx, v);
  }
  const m = mn === mx ? 1 : fr(255 / fr(mx - mn));
  const dmin = fr(mn * m);
  const dmax = fr(mx * m);
  let zp = fr(fr(-128 + dmin) + fr(127 + dmax)) > 0 ? fr(-128 - dmin) : fr(127 - dmax);
  zp = Math.max(-128, Math.min(127, zp));
  const zpi = roundHalfEven(zp);
  const scale = fr(1 / m);
  const mult = fr(1 / scale);
  const q = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = Math.max(-128 - zpi, Math.min(127 - zpi, fr(x[i] * mult)));
    q[i] = roundHalfEven(v) + zpi;
  }
  return { q, scale, zp: zpi };
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function qd8Graph(wq: Int8Array, scales: Uint16Array, bias: Float32Array): XnnGraphSpec {
  return {
    values: [
      { datatype: 'fp32', dims: [QM, QK], external: { id: 0, kind: 'input' } }, // 0 x
      { datatype: 'qdint8', dims: [QM, QK], quant: { kind: 'perTokenDynamic', numNonbatchDims: 1 } }, // 1 xq
      {
        datatype: 'qbint4',
        dims: [QN, QK],
        constant: packInt4ForXnnpack(wq, QN, QK),
        quant: { kind: 'perChannelGroup', channelDim: 0, groupSize: GROUP, scales },
      }, // 2 filter
      { datatype: 'fp32', dims: [QN], constant: f32(bias) }, // 3 bias
      { datatype: 'fp32', dims: [QM, QN], external: { id: 1, kind: 'output' } }, // 4 out
    ],
    nodes: [
      { op: 'Convert', inputId: 0, outputId: 1 },
      { op: 'FullyConnected', input1Id: 1, filterId: 2, biasId: 3, outputId: 4 },
    ],
  };
}

describe('XNNPACK qd8 linear (PerTokenDynamicQuant + qbint4 PerChannelGroupQuant, bf16 scales)', () => {
  const w = pseudoRandom(QN * QK, 99);
  const { q: wq, scales } = quantizeInt4Groups(w);
  const bias = pseudoRandom(QN, 98);
  const x = pseudoRandom(QM * QK, 97);
  for (let i = 0; i < QK; i++) x[QK + i] *= 4; // rows of different ranges
  x[2 * QK + 5] = 3.5; // an outlier

  it('packs 4-bit values with the even index in the low nibble and keys the bf16 scales "scale_<sha256>"', () => {
    expect(Array.from(packInt4ForXnnpack([-8, 7, 0, -1, 3], 1, 5))).toEqual([0x00 | (15 << 4), 8 | (7 << 4), 11]);
    const { namedData } = writeXnnpackPayload(qd8Graph(wq, scales, bias));
    const packed = packInt4ForXnnpack(wq, QN, QK);
    expect(namedData.map((n) => n.key)).toEqual([
      sha256Hex(packed),
      'scale_' + sha256Hex(new Uint8Array(scales.buffer)),
      sha256Hex(f32(bias)),
    ]);
    expect(namedData[1].source.size).toBe(((QN * QK) / GROUP) * 2);
  });

  it('runs and matches dynamic int8 per-row quantization x dequantized int4 weights', async () => {
    const { delegate, namedData } = xnnpackDelegate(qd8Graph(wq, scales, bias));
    const spec: ProgramSpec = {
      constants: [],
      namedData,
      methods: [
        method({
          name: 'forward',
          values: [
            { kind: 'tensor', tensor: { dtype: 'float32', sizes: [QM, QK] } },
            { kind: 'tensor', tensor: { dtype: 'float32', sizes: [QM, QN], allocation: { memoryId: 1, offset: 0 } } },
          ],
          inputs: [0],
          outputs: [1],
          delegates: [delegate],
          chains: [{ inputs: [0], outputs: [1], instructions: [{ kind: 'delegate', delegate: 0, args: [0, 1] }] }],
          nonConstBufferSizes: [0, QM * QN * 4],
        }),
      ],
    };
    const bytes = await writeProgramToBytes(spec);
    // Tolerance against the official runtime: both quantize the activations with XNNPACK's
    // parameter choice and accumulate in int32, so they agree up to the float rounding of
    // the final scaling (1e-5 relative), plus one activation step (scale_row x max|w|) in
    // case a value sitting on a rounding boundary rounds the other way.
    const [[y]] = await runProgram('xnnpack_qd8_qb4w', bytes, [{ method: 'forward', inputs: [new Tensor(x, [QM, QK])] }], { rtol: 1e-5, atol: 0.02 });
    const got = (y as Tensor).data as Float32Array;
    expect((y as Tensor).shape).toEqual([QM, QN]);

    const wDeq = new Float64Array(QN * QK);
    for (let i = 0; i < wDeq.length; i++) wDeq[i] = wq[i] * bf16ToFloat(scales[Math.floor(i / GROUP)]);
    for (let m = 0; m < QM; m++) {
      const row = x.subarray(m * QK, (m + 1) * QK);
      const { q, scale, zp } = qd8Row(row);
      for (let n = 0; n < QN; n++) {
        let emulated = bias[n];
        let exact = bias[n];
        let absW = 0;
        let maxW = 0;
        for (let k = 0; k < QK; k++) {
          const wv = wDeq[n * QK + k];
          emulated += (q[k] - zp) * scale * wv;
          exact += row[k] * wv;
          absW += Math.abs(wv);
          maxW = Math.max(maxW, Math.abs(wv));
        }
        const v = got[m * QN + n];
        // 1. Against the emulation of XNNPACK's qd8 (same parameters, exact integer sums):
        //    float32 rounding of scale * scale_w * sum (~1e-6 relative), plus one step of one
        //    activation (scale * max|w|) should a value on a .5 boundary round differently.
        expect(Math.abs(v - emulated), `row ${m} col ${n} vs qd8 emulation`).toBeLessThanOrEqual(1e-5 * Math.abs(emulated) + 1e-6 + scale * maxW);
        // 2. Against the float product: any per-row int8 quantizer with step `scale` errs by at
        //    most scale/2 per activation, so |y - x.W| <= scale/2 * sum|w| (+ float noise).
        expect(Math.abs(v - exact), `row ${m} col ${n} vs float`).toBeLessThanOrEqual((scale / 2) * absW + 1e-5 * Math.abs(exact) + 1e-6);
      }
    }
  });
});

// ---------------------------------------------------------------------------
// Writer behaviour: named data, mutable data, errors, files

describe('writer', () => {
  it('stores a named-data key once; the same key with another size is an error', async () => {
    const a = bytesSource(new Uint8Array([1, 2, 3]));
    const base = portableSpec();
    const layout = planProgram({ ...base, namedData: [{ key: 'k', source: a }, { key: 'k', source: bytesSource(new Uint8Array([1, 2, 3])) }, { key: 'j', source: a }] });
    expect(layout.namedData).toEqual([
      { key: 'k', segmentIndex: 1 },
      { key: 'j', segmentIndex: 1 },
    ]);
    expect(layout.segments.length).toBe(2);
    await expect(writeProgramToBytes({ ...base, namedData: [{ key: 'k', source: a }, { key: 'k', source: bytesSource(new Uint8Array(4)) }] })).rejects.toThrow(
      /named data 'k' is given twice with different sizes/,
    );
  });

  it('writes initial mutable data to mutable_data_segments and the runtime starts from it', async () => {
    const init = f32([1, 2, 3, 4]);
    const spec: ProgramSpec = {
      constants: [],
      namedData: [],
      methods: [
        method({
          name: 'forward',
          values: [
            { kind: 'tensor', tensor: { dtype: 'float32', sizes: [4] } }, // 0 x
            { kind: 'tensor', tensor: { dtype: 'float32', sizes: [4], allocation: { memoryId: 1, offset: 0 }, mutableData: { source: bytesSource(init), fullyQualifiedName: 'state' } } }, // 1 state
            { kind: 'int', value: 1 },
            { kind: 'tensor', tensor: { dtype: 'float32', sizes: [4], allocation: { memoryId: 1, offset: 16 } } }, // 3 out
          ],
          inputs: [0],
          outputs: [3],
          operators: [{ name: 'aten::add', overload: 'out' }],
          chains: [{ inputs: [0], outputs: [3], instructions: [{ kind: 'kernel', op: 0, args: [1, 0, 2, 3, 3] }] }],
          nonConstBufferSizes: [0, 32],
        }),
      ],
    };
    const bytes = await writeProgramToBytes(spec);
    const p = rootProgram(bytes);
    expect(p.mutableDataSegmentsLength()).toBe(1);
    const mds = p.mutableDataSegments(0)!;
    expect(Array.from({ length: mds.offsetsLength() }, (_, i) => Number(mds.offsets(i)))).toEqual([0, 0]);
    const t = p.executionPlan(0)!.values(1)!.val(new fb.Tensor()) as fb.Tensor;
    expect(t.dataBufferIdx()).toBe(1);
    expect(t.extraTensorInfo()!.fullyQualifiedName()).toBe('state');
    const [[y]] = await runProgram('mutable_state', bytes, [{ method: 'forward', inputs: [new Tensor(new Float32Array([10, 20, 30, 40]), [4])] }], { rtol: 0 });
    expect(Array.from((y as Tensor).data as Float32Array)).toEqual([11, 22, 33, 44]);
  });

  it('rejects malformed specs with messages naming the method and value', async () => {
    const base = portableSpec();
    const broken = (f: (m: MethodSpec) => void): ProgramSpec => {
      const s = portableSpec();
      f(s.methods[0]);
      return s;
    };
    const cases: Array<[ProgramSpec, RegExp]> = [
      [broken((m) => (m.chains[0].instructions[0] = { kind: 'kernel', op: 0, args: [0, 99] })), /method 'forward'.*refers to value 99/],
      [broken((m) => (m.chains[0].instructions[0] = { kind: 'kernel', op: 5, args: [] })), /calls operator 5/],
      [broken((m) => (m.values[1] = { kind: 'tensor', tensor: { dtype: 'float32', sizes: [3], constant: 7 } })), /value 1 uses constant 7/],
      [broken((m) => (m.values[4] = { kind: 'tensor', tensor: { dtype: 'float32', sizes: [100], allocation: { memoryId: 1, offset: 0 } } })), /overruns planned buffer 1/],
      [broken((m) => (m.values[5] = { kind: 'tensor', tensor: { dtype: 'float32', sizes: [2, 3], allocation: { memoryId: 2, offset: 0 } } })), /memory_id 2/],
      [broken((m) => (m.values[1] = { kind: 'tensor', tensor: { dtype: 'float32', sizes: [30], constant: 1 } })), /needs 120 bytes, constant 1 has 12/],
      [broken((m) => (m.values[3] = { kind: 'intList', items: [0] })), /IntList\) item 0 is a tensor/],
      [broken((m) => (m.nonConstBufferSizes = [64])), /reserved entry 0/],
      [{ ...base, methods: [base.methods[0], base.methods[0]] }, /defined twice/],
    ];
    for (const [spec, re] of cases) {
      const err = await writeProgramToBytes(spec).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ExecuTorchError);
      expect((err as ExecuTorchError).code).toBe('InvalidArgument');
      expect((err as Error).message).toMatch(re);
    }
    expect(() => writeXnnpackPayload({ values: [{ datatype: 'fp32', dims: [2] }], nodes: [{ op: 'Add', input1Id: 0, input2Id: 3, outputId: 0 }] })).toThrow(
      /node 0 \(Add\): input2Id = 3 is not a value/,
    );
    expect(() =>
      writeXnnpackPayload({
        values: [
          { datatype: 'fp32', dims: [2], external: { id: 1, kind: 'input' } },
          { datatype: 'fp32', dims: [2], external: { id: 1, kind: 'output' } },
        ],
        nodes: [],
      }),
    ).toThrow(/external id 1 is used twice/);
    expect(() =>
      writeXnnpackPayload({ values: [{ datatype: 'fp32', dims: [2], external: { id: 3, kind: 'input' } }], nodes: [], numExterns: 2 }),
    ).toThrow(/numExterns 2 does not cover external id 3/);
    expect(() =>
      writeXnnpackPayload({ values: [{ datatype: 'fp32', dims: [2] }], nodes: [{ op: 'Add', inputId: 0, outputId: 0 } as never] }),
    ).toThrow(/has no field 'inputId'/);
    expect(() => writeXnnpackPayload({ values: [{ datatype: 'fp32', dims: [2, 2], constant: new Uint8Array(12) }], nodes: [] })).toThrow(
      /has 12 bytes of data, want 16/,
    );
  });

  it('streams to a file, reading each source once, and leaves nothing behind on failure', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-pte-writer-'));
    try {
      const reads = new Map<string, number>();
      const counted = (name: string, bytes: Uint8Array): ByteSource => ({
        size: bytes.length,
        read: async () => {
          reads.set(name, (reads.get(name) ?? 0) + 1);
          return bytes;
        },
      });
      const { delegate, namedData } = xnnpackDelegate(fcAddGraph(2));
      const base = portableSpec();
      const spec: ProgramSpec = {
        constants: [base.constants[0], counted('c1', f32(C1)), counted('c2', f32(C2))],
        namedData: namedData.map((n, i) => ({ key: n.key, source: counted(`nd${i}`, n.source.read() as Uint8Array) })),
        methods: [base.methods[0], fcAddMethod('fc', 2, false, { ...delegate, payload: counted('payload', delegate.payload.read() as Uint8Array) })],
      };
      const out = path.join(dir, 'model.pte');
      const progress: number[] = [];
      const layout = await writeProgram(spec, out, { onProgress: (w) => progress.push(w) });
      expect([...reads.values()].every((n) => n === 1)).toBe(true);
      expect(reads.size).toBe(5);
      const onDisk = new Uint8Array(fs.readFileSync(out));
      expect(onDisk.length).toBe(layout.fileSize);
      expect(progress[progress.length - 1]).toBe(layout.fileSize);
      expect(Buffer.from(onDisk)).toEqual(Buffer.from(await writeProgramToBytes(spec)));
      expect(Buffer.from(await writeProgram(spec, 'buffer'))).toEqual(Buffer.from(onDisk));
      const p = await Program.load(out);
      expect(p.methodNames).toEqual(['forward', 'fc']);
      p.dispose();

      // A source that fails mid-write: no output file, no temporary file.
      const failing: ProgramSpec = { ...spec, constants: [base.constants[0], bytesSource(f32(C1)), { size: 24, read: () => Promise.reject(new Error('disk on fire')) }] };
      const out2 = path.join(dir, 'broken.pte');
      await expect(writeProgram(failing, out2)).rejects.toThrow(/disk on fire/);
      expect(fs.readdirSync(dir)).toEqual(['model.pte']);
      // A source whose bytes disagree with its size.
      const lying: ProgramSpec = { ...spec, constants: [base.constants[0], bytesSource(f32(C1)), { size: 24, read: () => new Uint8Array(20) }] };
      await expect(writeProgram(lying, out2)).rejects.toThrow(/constant 2: read\(\) gave 20 bytes, its size says 24/);
      expect(fs.readdirSync(dir)).toEqual(['model.pte']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks caller-given XNNPACK keys against the bytes when writing', async () => {
    const wBytes = f32(W);
    const graph = fcAddGraph(2);
    graph.values[1] = { ...graph.values[1], constant: { key: sha256Hex(wBytes), source: bytesSource(wBytes) } };
    const good = xnnpackDelegate(graph);
    expect(good.namedData[0].key).toBe(sha256Hex(wBytes));
    await writeProgramToBytes({ constants: [], namedData: good.namedData, methods: [fcAddMethod('forward', 2, false, good.delegate)] });
    graph.values[1] = { ...graph.values[1], constant: { key: sha256Hex(f32(B)).replace(/^./, '0'), source: bytesSource(wBytes) } };
    const lying = xnnpackDelegate(graph);
    await expect(writeProgramToBytes({ constants: [], namedData: lying.namedData, methods: [fcAddMethod('forward', 2, false, lying.delegate)] })).rejects.toThrow(
      /bytes hash to/,
    );
  });

  it('covers every node of the schema with its own table (table-driven, checked both ways)', () => {
    const ops = Object.keys(XNN_NODE_TABLES) as XnnNodeOp[];
    expect(ops.length).toBe(Object.keys(XNodeUnion).filter((k) => k !== 'NONE' && Number.isNaN(Number(k))).length);
    for (const op of ops) {
      // The generated reader's class for the union member is the table we write.
      const reader = unionToXnodeUnion(XNodeUnion[`XNN${op}` as keyof typeof XNodeUnion], (o) => o) as object;
      expect(`${reader.constructor.name}T`, op).toBe(XNN_NODE_TABLES[op].name);
    }
    // One node of each kind, every field set to a distinct value, read back unchanged.
    const values = Array.from({ length: 8 }, () => ({ datatype: 'fp32' as const, dims: [1, 2, 3, 4] }));
    const nodes = ops.map((op, i) => {
      const node: Record<string, unknown> = { op, debugHandle: i + 1, outputMinMax: { min: -i - 1, max: i + 1 } };
      Object.keys(new XNN_NODE_TABLES[op]()).forEach((k, j) => {
        node[k] = /Id$/.test(k) ? (i + j) % 8 : /perm|Shape|offsets|sizes|Paddings/.test(k) ? [j, j + 1, i] : /alpha|Slope|Value/.test(k) ? j + 0.5 : i * 100 + j;
      });
      return node as unknown as XnnNodeSpec;
    });
    const { payload } = writeXnnpackPayload({ values, nodes });
    const back = readXnnpackPayload(payload, () => undefined);
    expect(back.nodes).toEqual(nodes);
  });

  it('embeds constants after the graph when asked (the older payload layout)', async () => {
    const { payload, namedData } = writeXnnpackPayload(fcAddGraph(2), { constants: 'embedded' });
    expect(namedData).toEqual([]);
    const dv = new DataView(payload.buffer, payload.byteOffset);
    const constOffset = dv.getUint32(18, true);
    expect(Number(dv.getBigUint64(22, true))).toBe(48 + 12); // W (48 bytes) then B at the next multiple of 16
    expect(Buffer.from(payload.subarray(constOffset, constOffset + 48))).toEqual(Buffer.from(f32(W)));
    const bytes = await writeProgramToBytes({
      constants: [],
      namedData: [],
      methods: [fcAddMethod('forward', 2, false, { id: 'XnnpackBackend', payload: bytesSource(payload) })],
    });
    const x = pseudoRandom(2 * IC, 11);
    const r = pseudoRandom(2 * OC, 12);
    const [[y]] = await runProgram('xnnpack_fc_add_embedded', bytes, [{ method: 'forward', inputs: [new Tensor(x, [2, IC]), new Tensor(r, [2, OC])] }], { rtol: 1e-5 });
    expectClose((y as Tensor).data as Float32Array, fcAddReference(x, r, 2), 1e-5, 'embedded fc+add');
  });
});

// ---------------------------------------------------------------------------
// (f) official exports read back and written again (test/fixtures/interop: optimum
// XNNPACK exports of tiny Llama / Qwen3 / Gemma 3, float and 8da4w / 8da8w / 8w, with
// 4w / 8w embeddings): the program writer alone gives the same segments byte for byte
// and the same program; with every XNNPACK payload decoded and encoded again by our
// XNNPACK writer, the graphs and named-data keys are the same. Both run in our runtime
// with bit-identical outputs to the original file.

interface RunRef {
  prefill: { inputs: RefTensor[] };
  decode?: Array<{ inputToken: number; cachePosition: number }>;
  visionEncoder?: { inputs: RefTensor[] };
  tokenEmbedding?: { inputs: RefTensor[] };
}

function fixtureCases(f: InteropFixture, original: Uint8Array): Array<{ method: string; inputs: Value[] }> {
  const ref = readReference<{ run: RunRef }>(f.name).run;
  const spec = readProgram(original);
  const cases: Array<{ method: string; inputs: Value[] }> = [];
  for (const m of spec.methods) if (m.inputs.length === 0) cases.push({ method: m.name, inputs: [] });
  if (f.methods.includes('forward')) {
    cases.push({ method: 'forward', inputs: ref.prefill.inputs.map(refTensor) });
    const d = ref.decode![0];
    cases.push({
      method: 'forward',
      inputs: [new Tensor(new BigInt64Array([BigInt(d.inputToken)]), [1, 1]), new Tensor(new BigInt64Array([BigInt(d.cachePosition)]), [1])],
    });
  } else {
    cases.push({ method: 'vision_encoder', inputs: ref.visionEncoder!.inputs.map(refTensor) });
    cases.push({ method: 'token_embedding', inputs: ref.tokenEmbedding!.inputs.map(refTensor) });
    cases.push({ method: 'text_decoder', inputs: ref.prefill.inputs.map(refTensor) });
  }
  return cases;
}

/** ProgramT as plain data, minus requires_grad (the spec does not carry it; no runtime reads it). */
function programData(bytes: Uint8Array): unknown {
  const p = fb.Program.getRootAsProgram(new flatbuffers.ByteBuffer(bytes)).unpack();
  for (const plan of p.executionPlan)
    for (const v of plan.values) if (v.valType === fb.KernelTypes.Tensor) (v.val as fb.TensorT).requiresGrad = false;
  return JSON.parse(JSON.stringify(p, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

function xnnGraphData(payload: Uint8Array): unknown {
  const { flatbuffer } = splitXnnpackPayload(payload);
  const g = XNNGraph.getRootAsXNNGraph(new flatbuffers.ByteBuffer(Uint8Array.from(flatbuffer))).unpack();
  return JSON.parse(JSON.stringify(g, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

/** Our runtime's outputs for the cases, as plain data (bit-exact comparison). */
async function outputsOf(bytes: Uint8Array, cases: Array<{ method: string; inputs: Value[] }>): Promise<JsonValue[][]> {
  const p = await Program.load(bytes, { threads: 1 });
  try {
    const outs: JsonValue[][] = [];
    for (const c of cases) outs.push((await p.execute(c.method, c.inputs)).map(toJsonValue));
    return outs;
  } finally {
    p.dispose();
  }
}

/** Tolerance for ours vs the official runtime on the same program, as the LLM tests use. */
function fixtureTolerance(f: InteropFixture): Tolerance {
  if (!f.qlinear && !f.qembedding) return { rtol: FLOAT_RTOL };
  const official = floats(readReference<{ run: { prefill: { logits: RefTensor } } }>(f.name).run.prefill.logits);
  const float = floats(readReference<{ run: { prefill: { logits: RefTensor } } }>(floatCounterpart(f.name)).run.prefill.logits);
  return { rtol: FLOAT_RTOL, atol: tolerance(f, official, () => float) };
}

describe.each(interopFixtures.map((f) => [f.name, f] as const))('official export %s, read and written again', (_name, f) => {
  const original = new Uint8Array(fs.readFileSync(path.join(interopDir, f.pte)));

  it('program writer: same segments byte for byte, same program, same outputs', async () => {
    const spec = readProgram(original);
    const ours = await writeProgramToBytes(spec);
    const a = readExtendedHeader(original)!;
    const b = readExtendedHeader(ours)!;
    expect(b.segmentDataSize).toBe(a.segmentDataSize);
    expect(ours.length - b.segmentBaseOffset).toBe(original.length - a.segmentBaseOffset);
    expect(Buffer.compare(Buffer.from(ours.subarray(b.segmentBaseOffset)), Buffer.from(original.subarray(a.segmentBaseOffset)))).toBe(0);
    expect(programData(ours)).toEqual(programData(original));
    const cases = fixtureCases(f, original);
    const expected = await outputsOf(original, cases);
    expect(await outputsOf(ours, cases)).toEqual(expected);
    // The original too, so that run_in_official.py can show the official runtime gives
    // bit-identical outputs on both.
    recordRun(`original_${f.name}`, original, cases.map((c, i) => ({ method: c.method, inputs: c.inputs.map(toJsonValue), outputs: expected[i] })), fixtureTolerance(f));
    await runProgram(`roundtrip_${f.name}`, ours, cases, fixtureTolerance(f));
  });

  it('XNNPACK writer: same graphs and named-data keys, same outputs', async () => {
    const spec = readProgram(original);
    const named = new Map(spec.namedData.map((n) => [n.key, n.source.read() as Uint8Array]));
    const newNamed = new Map<string, NamedDataSpec>();
    let delegates = 0;
    for (const m of spec.methods)
      m.delegates = m.delegates.map((d) => {
        if (d.id !== 'XnnpackBackend') return d;
        delegates++;
        const payload = d.payload.read() as Uint8Array;
        const graph = readXnnpackPayload(payload, (k) => named.get(k));
        const again = writeXnnpackPayload(graph);
        expect(xnnGraphData(again.payload)).toEqual(xnnGraphData(payload));
        for (const nd of again.namedData) {
          // Our key for these bytes is the official key, and the bytes are those stored under it.
          expect(named.has(nd.key), `key ${nd.key}`).toBe(true);
          expect(Buffer.compare(Buffer.from(nd.source.read() as Uint8Array), Buffer.from(named.get(nd.key)!))).toBe(0);
          if (!newNamed.has(nd.key)) newNamed.set(nd.key, nd);
        }
        return { ...d, payload: bytesSource(again.payload) };
      });
    expect(delegates).toBeGreaterThan(0);
    // Every named blob of the official file is referred to by some payload, in the same order.
    expect([...newNamed.keys()]).toEqual(spec.namedData.map((n) => n.key));
    const ours = await writeProgramToBytes({ ...spec, namedData: [...newNamed.values()] });
    const cases = fixtureCases(f, original);
    expect(await outputsOf(ours, cases)).toEqual(await outputsOf(original, cases));
    await runProgram(`reencoded_${f.name}`, ours, cases, fixtureTolerance(f));
  });
});

// ---------------------------------------------------------------------------
// Our exporter's programs (tiny random checkpoints in test/fixtures/checkpoints, float
// and 8da4w + 8w) through the same record: with EXECUTORCH_NODE_DUMP_PTE set they go
// to run_in_official.py like the programs above, and once recorded our outputs are
// compared with the official runtime's on every run.

type ExportVariant = { qlinear?: QLinearOption; qembedding?: QEmbeddingOption };
const variantLabel = (v: ExportVariant) => [v.qlinear ?? 'float', v.qembedding ? `qe${v.qembedding}` : ''].filter(Boolean).join('.');

/** Calls of at most `bound` tokens covering the prompt, then one decode step. */
function promptCases(method: string, bound: number, prompt: number[], next: number): Array<{ method: string; inputs: Value[] }> {
  const cases: Array<{ method: string; inputs: Value[] }> = [];
  const call = (tokens: number[], start: number) => ({
    method,
    inputs: [
      new Tensor(BigInt64Array.from(tokens, BigInt), [1, tokens.length]),
      new Tensor(BigInt64Array.from(tokens, (_, i) => BigInt(start + i)), [tokens.length]),
    ],
  });
  for (let start = 0; start < prompt.length; start += bound) cases.push(call(prompt.slice(start, start + bound), start));
  cases.push(call([next], prompt.length));
  return cases;
}

describe.each([
  ['llama', {}],
  ['smollm', {}],
  ['qwen2', {}],
  ['qwen3', {}],
  ['gemma3', {}],
  ['llama', { qlinear: '8da4w', qembedding: '8w' }],
  ['qwen3', { qlinear: '8da4w', qembedding: '8w' }],
  ['gemma3', { qlinear: '8da4w', qembedding: '8w' }],
] as Array<[string, ExportVariant]>)('exporter output %s %o', (name, variant) => {
  it('runs in our runtime (and is recorded for the official one)', async () => {
    const dir = path.join(repoRoot, 'test', 'fixtures', 'checkpoints', name);
    const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as { prompt: number[]; generated: number[] };
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-export-pte-'));
    try {
      const module = await loadCausalLMModel(dir, { maxSeqLen: 64, ...variant });
      const out = path.join(work, 'model.pte');
      await exportToExecuTorchWithXnnpack(module, { outputPath: out }).finally(() => module.close());
      const bytes = new Uint8Array(fs.readFileSync(out));
      const spec = readProgram(bytes);
      const cases: Array<{ method: string; inputs: Value[] }> = spec.methods.filter((m) => m.inputs.length === 0).map((m) => ({ method: m.name, inputs: [] }));
      const forward = spec.methods.find((m) => m.name === 'forward')!;
      const ids = forward.values[forward.inputs[0]];
      const bound = ids.kind === 'tensor' ? Number(ids.tensor.sizes[1]) : 1;
      cases.push(...promptCases('forward', bound, ref.prompt, ref.generated[0]));
      // Quantized: per-row int8 activations can flip a rounding between runtimes; the bound
      // is the one the LLM tests use (a tenth of the official 8da4w export's distance from float).
      const fixture = interopFixtures.find((f) => f.name === `${name}.ql-8da4w.qe-8w`);
      const tol: Tolerance = variant.qlinear && fixture ? fixtureTolerance(fixture) : { rtol: FLOAT_RTOL };
      const outs = await runProgram(`exported_${name}.${variantLabel(variant)}`, bytes, cases, tol);
      const logits = outs[outs.length - 1][0] as Tensor;
      expect(logits.shape).toEqual([1, 1, logits.shape[2]]);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

// The image-text exporter's program (gemma3-tiny `small`, float), recorded the same way:
// the three methods on the fixture's image prompt, the text decoder in window-sized
// calls with the image_block input.
describe('exporter output gemma3-tiny small (image-text)', () => {
  it('runs in our runtime (and is recorded for the official one)', async () => {
    const dir = path.join(sharedDir(), 'fixtures', 'gemma3-tiny', 'small');
    const f = JSON.parse(fs.readFileSync(path.join(dir, 'fixtures', 'fixture_image.json'), 'utf8')) as {
      input_ids: number[];
      special_ids: { image_soft_token: number };
      image: { pixel_values_file: string; pixel_values_shape: number[] };
    };
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-export-pte-'));
    try {
      const module = await loadImageTextToTextModel(dir, { maxLength: 64 });
      const out = path.join(work, 'model.pte');
      await exportToExecuTorchWithXnnpack(module, { outputPath: out });
      await module.close();
      const bytes = new Uint8Array(fs.readFileSync(out));
      const pixels = fs.readFileSync(path.join(dir, 'fixtures', f.image.pixel_values_file));
      const program = await Program.load(bytes);
      const tokens = f.input_ids;
      const embed = async (ids: number[]) =>
        ((await program.execute('token_embedding', [new Tensor(BigInt64Array.from(ids, BigInt), [1, ids.length])]))[0] as Tensor).data as Float32Array;
      const hidden = (await embed([tokens[0]])).length;
      const embeds = await embed(tokens);
      program.dispose();
      // Decoder inputs use the token embeddings as they are (the splice is the runner's
      // business; both runtimes get the same inputs either way).
      const blocks = imageBlocks(tokens, f.special_ids.image_soft_token);
      const cases: Array<{ method: string; inputs: Value[] }> = [
        { method: 'vision_encoder', inputs: [new Tensor(new Float32Array(pixels.buffer.slice(pixels.byteOffset, pixels.byteOffset + pixels.byteLength)), f.image.pixel_values_shape)] },
        { method: 'token_embedding', inputs: [new Tensor(BigInt64Array.from(tokens, BigInt), [1, tokens.length])] },
      ];
      for (const c of planPrefillChunks(tokens.length, module.maxTokensPerCall, blocks)) {
        const n = c.end - c.start;
        cases.push({
          method: 'text_decoder',
          inputs: [
            new Tensor(embeds.slice(c.start * hidden, c.end * hidden), [1, n, hidden]),
            new Tensor(BigInt64Array.from({ length: n }, (_, i) => BigInt(c.start + i)), [n]),
            new Tensor(imageBlockRows(c.start, c.end, blocks), [n, 2]),
          ],
        });
      }
      const outs = await runProgram('exported_gemma3mm.float', bytes, cases, { rtol: FLOAT_RTOL });
      expect((outs[0][0] as Tensor).shape).toEqual([1, 4, hidden]);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------
// Weight-only int8 linear: FullyConnected with an fp32 input and a static qcint8 filter
// (int8 codes, one fp32 scale per output channel), what `8w` exports emit. XNNPACK runs
// it as f32_qc8w (activations stay f32); ours on native/microkernels/f32_qc8w_gemm.
// XNNPACK scales the bias too: y = scale * (x . q + bias) (its kernels start the sums at
// the bias; the official runtime's outputs for these very files show it). A writer that
// wants x . (q * scale)^T + b stores b / scale.

describe('XNNPACK weight-only int8 linear (FullyConnected fp32 x qcint8 per channel)', () => {
  const WK = 37; // input channels: not a multiple of any vector width
  const WN = 21; // output channels: odd, more than one tile of 16

  /** Symmetric int8 per output channel: scale = max|w| / 127, codes in [-127, 127]. */
  function quantizePerChannel(w: Float32Array): { q: Int8Array; scales: Float32Array } {
    const q = new Int8Array(WN * WK);
    const scales = new Float32Array(WN);
    for (let n = 0; n < WN; n++) {
      let m = 0;
      for (let k = 0; k < WK; k++) m = Math.max(m, Math.abs(w[n * WK + k]));
      scales[n] = m / 127;
      for (let k = 0; k < WK; k++) q[n * WK + k] = Math.round(w[n * WK + k] / scales[n]);
    }
    return { q, scales };
  }

  const { q, scales } = quantizePerChannel(pseudoRandom(WN * WK, 201));
  const codes = new Uint8Array(q.buffer);
  const bias = pseudoRandom(WN, 202);

  function graph(rows: number, withBias: boolean, biasType: 'fp32' | 'fp16' = 'fp32'): XnnGraphSpec {
    const biasBytes = biasType === 'fp32' ? f32(bias) : new Uint8Array(WN * 2);
    return {
      values: [
        { datatype: 'fp32', dims: [rows, WK], external: { id: 0, kind: 'input' } }, // 0 x
        { datatype: 'qcint8', dims: [WN, WK], constant: codes, quant: { kind: 'perChannel', channelDim: 0, scales } }, // 1 filter
        { datatype: biasType, dims: [WN], constant: biasBytes }, // 2 bias
        { datatype: 'fp32', dims: [rows, WN], external: { id: 1, kind: 'output' } }, // 3 out
      ],
      nodes: [{ op: 'FullyConnected', input1Id: 0, filterId: 1, outputId: 3, ...(withBias ? { biasId: 2 } : {}) }],
    };
  }

  async function programBytes(rows: number, withBias: boolean, biasType: 'fp32' | 'fp16' = 'fp32'): Promise<Uint8Array> {
    const { delegate, namedData } = xnnpackDelegate(graph(rows, withBias, biasType));
    return writeProgramToBytes({
      constants: [],
      namedData,
      methods: [
        method({
          name: 'forward',
          values: [
            { kind: 'tensor', tensor: { dtype: 'float32', sizes: [rows, WK] } },
            { kind: 'tensor', tensor: { dtype: 'float32', sizes: [rows, WN], allocation: { memoryId: 1, offset: 0 } } },
          ],
          inputs: [0],
          outputs: [1],
          delegates: [delegate],
          chains: [{ inputs: [0], outputs: [1], instructions: [{ kind: 'delegate', delegate: 0, args: [0, 1] }] }],
          nonConstBufferSizes: [0, rows * WN * 4],
        }),
      ],
    });
  }

  /** y = scale * (x . q + bias) in float64, and the magnitude scale * (sum |x q| + |bias|) per output. */
  function reference(x: Float32Array, rows: number, withBias: boolean): { y: Float64Array; mag: Float64Array } {
    const y = new Float64Array(rows * WN);
    const mag = new Float64Array(rows * WN);
    for (let m = 0; m < rows; m++)
      for (let n = 0; n < WN; n++) {
        let s = 0;
        let a = 0;
        for (let k = 0; k < WK; k++) {
          s += x[m * WK + k] * q[n * WK + k];
          a += Math.abs(x[m * WK + k] * q[n * WK + k]);
        }
        const b = withBias ? bias[n] : 0;
        y[m * WN + n] = (s + b) * scales[n];
        mag[m * WN + n] = (a + Math.abs(b)) * scales[n];
      }
    return { y, mag };
  }

  it('keys the int8 codes by their sha256 and the scales "scale_<sha256>"', () => {
    const { namedData } = writeXnnpackPayload(graph(1, true));
    expect(namedData.map((n) => n.key)).toEqual([sha256Hex(codes), 'scale_' + sha256Hex(new Uint8Array(scales.buffer)), sha256Hex(f32(bias))]);
    expect(namedData[0].source.size).toBe(WN * WK);
  });

  for (const [name, rows, withBias] of [
    ['xnnpack_f32_qc8w', 5, true],
    ['xnnpack_f32_qc8w_nobias', 1, false],
  ] as const) {
    it(`${name}: ${rows} row(s) ${withBias ? 'with' : 'without'} bias match scale * (x . q${withBias ? ' + bias' : ''})`, async () => {
      const bytes = await programBytes(rows, withBias);
      const x = pseudoRandom(rows * WK, 203 + rows);
      // Tolerance against the official runtime: both sum f32 products of f32 activations and
      // converted int8 codes and scale at the end, in different orders: ~1e-6 relative.
      const [[y]] = await runProgram(name, bytes, [{ method: 'forward', inputs: [new Tensor(x, [rows, WK])] }], { rtol: 1e-5 });
      expect((y as Tensor).shape).toEqual([rows, WN]);
      const got = (y as Tensor).data as Float32Array;
      const { y: want, mag } = reference(x, rows, withBias);
      for (let i = 0; i < want.length; i++) {
        // f32 accumulation of 37 terms: well within 1e-6 of the sum of magnitudes.
        expect(Math.abs(got[i] - want[i]), `output ${i}: got ${got[i]} want ${want[i]}`).toBeLessThanOrEqual(1e-6 * mag[i] + 1e-7);
      }
    });
  }

  it('refuses a non-fp32 bias with NotSupported naming the node and the datatypes', async () => {
    const program = await Program.load(await programBytes(1, true, 'fp16'));
    try {
      const err = await program.loadMethod('forward').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExecuTorchError);
      expect((err as ExecuTorchError).code).toBe('NotSupported');
      expect((err as ExecuTorchError).message).toMatch(/node 0 FullyConnected with an fp32 input, a qcint8 filter and a fp16 bias/);
    } finally {
      program.dispose();
    }
  });
});
