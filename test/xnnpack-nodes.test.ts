// Every XNNPACK node type official exports contain, against the OFFICIAL runtime's outputs:
// small modules exported with the official XnnpackPartitioner and run with
// executorch.runtime (test/fixtures/xnnpack-nodes, made by
// tools/interop/xnnpack_nodes/make_node_fixtures.py), run here through our XnnpackBackend,
// once as built and once with ETN_XNNPACK_REFERENCE=1 (our own loops instead of XNNPACK's
// operators). Plus the node types no official export contains: ScaledDotProductAttention
// and ArgMaxPooling2d fail clearly.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExecuTorchError, Program, Tensor } from '../lib';
import { rng } from './helpers/inputs';
import { OfficialFixture, OfficialTensor, officialInput } from './helpers/official';
import { repoRoot } from './helpers/paths';
import { compilePte, tensorValue } from './helpers/pte-json';

const dir = path.join(repoRoot, 'test', 'fixtures', 'xnnpack-nodes');

type Precision = 'float32' | 'float16' | 'bfloat16' | 'int8';
interface NodeFixture extends OfficialFixture {
  description: string;
  outputsFrom: 'official' | 'eager';
  precision: Precision;
  xnnpack: { delegates: { nodes: Record<string, number> }[]; nodeTypes: string[] };
  outputQuantScales: (number | null)[] | null;
}
interface IndexEntry {
  name: string;
  outputsFrom: 'official' | 'eager';
  pte: string;
  json: string;
  precision: Precision;
  nodeTypes: string[];
}
interface Index {
  fixtures: IndexEntry[];
  nodeTypesCovered: string[];
  probes: { node: string; module: string; delegated?: Record<string, number>[]; outsideDelegate?: string[] }[];
}

const index = JSON.parse(fs.readFileSync(path.join(dir, 'INDEX.json'), 'utf8')) as Index;
const fixture = (e: IndexEntry): NodeFixture => JSON.parse(fs.readFileSync(path.join(dir, e.json), 'utf8')) as NodeFixture;

// Tolerances, as a fraction of the output's largest magnitude (int8: in quantization steps).
// - float32: 1e-5 (tighter than the 1e-4 of the other official-output tests). Many outputs
//   are bit-identical; sums (convolutions, matmuls, pooling, softmax) and approximations
//   (sigmoid, tanh, exp, gelu, ...) differ from the official runtime's in the last bits
//   (measured: at most 2.4e-7 of the largest output, both modes). Fixtures that only move
//   data, compare and do single IEEE operations (EXACT) must be bit-identical.
// - float16 / bfloat16: we compute each node in f32 and round its result to the value's
//   precision; the official runtime uses XNNPACK's f16 / bf16 kernels (f16 sums rounded
//   as they go, polynomial approximations). One rounding of the output is 2^-11 (fp16) /
//   2^-8 (bf16) relative; intermediates rounded differently compound over a few nodes: 4
//   units in the last place of the largest output.
// - int8: the requantization (fp32 scale, round to nearest even) is XNNPACK's, so results are
//   exact unless a product sits on a rounding tie; at most one quantization step.
const RTOL: Record<Exclude<Precision, 'int8'>, number> = {
  float32: 1e-5,
  float16: 4 * 2 ** -10,
  bfloat16: 4 * 2 ** -7,
};
const INT8_STEPS = 1;
const EXACT = new Set(['binary_broadcast', 'movement']);

interface Measured {
  fixture: string;
  mode: string;
  output: number;
  maxAbsDiff: number;
  relToMax: number;
  steps?: number;
  mismatches?: number;
}
const measured: Measured[] = [];

afterAll(() => {
  if (!process.env.XNNPACK_NODES_REPORT) return;
  const rows = new Map<string, Measured>();
  for (const m of measured) {
    const key = `${m.fixture} ${m.mode}`;
    const best = rows.get(key);
    if (!best || m.relToMax > best.relToMax || (m.steps ?? 0) > (best.steps ?? 0)) rows.set(key, m);
  }
  for (const [k, m] of rows)
    console.log(
      `${k}: max |diff| ${m.maxAbsDiff.toExponential(2)} = ${m.relToMax.toExponential(2)} of max|out|` +
        (m.steps !== undefined ? `, ${m.steps} step(s), ${m.mismatches} element(s) differ` : ''),
    );
});

function floatsOf(t: OfficialTensor): Float32Array {
  const ref = officialInput(t) as Tensor;
  return ref.toFloat32();
}

function compare(name: string, mode: string, fx: NodeFixture, k: number, ours: unknown, ref: OfficialTensor): void {
  expect(ours).toBeInstanceOf(Tensor);
  const t = ours as Tensor;
  expect(t.dtype).toBe(ref.dtype);
  expect(t.shape).toEqual(ref.shape);
  const mine = t.toFloat32();
  const want = floatsOf(ref);
  let maxRef = 0;
  let maxDiff = 0;
  let mismatches = 0;
  for (let i = 0; i < want.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(want[i]));
    const d = Math.abs(mine[i] - want[i]);
    if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Infinity : d;
    if (d !== 0) mismatches++;
  }
  const m: Measured = { fixture: name, mode, output: k, maxAbsDiff: maxDiff, relToMax: maxRef ? maxDiff / maxRef : maxDiff };
  if (fx.precision === 'int8') {
    const scale = fx.outputQuantScales?.[k];
    expect(scale, `output ${k} quantization scale`).toBeTypeOf('number');
    // The JSON's scale is flatc's 7-digit print of the float: allow for that rounding.
    m.steps = Math.round(maxDiff / (scale as number));
    m.mismatches = mismatches;
    measured.push(m);
    expect(maxDiff, `${name} output ${k} (${mismatches} elements differ)`).toBeLessThanOrEqual(
      INT8_STEPS * (scale as number) * (1 + 1e-5),
    );
    return;
  }
  measured.push(m);
  const bound = EXACT.has(name.split('/')[0]) ? 0 : RTOL[fx.precision] * maxRef;
  expect(maxDiff, `${name} output ${k}: max |diff| ${maxDiff} of max |out| ${maxRef}`).toBeLessThanOrEqual(bound);
}

function runFixtures(mode: string): void {
  for (const entry of index.fixtures) {
    // outputsFrom 'eager': the official runtime cannot execute this delegate (see the fixture's
    // officialError); its reference outputs are PyTorch eager's.
    const against = entry.outputsFrom === 'eager' ? ' vs PyTorch eager' : '';
    it(`${entry.name} (${entry.precision}${against}): ${entry.nodeTypes.join(', ')}`, async () => {
      const fx = fixture(entry);
      const program = await Program.load(path.join(dir, entry.pte));
      try {
        // Our payload reader sees the node types the generator decoded with flatc.
        const meta = program.methodMeta('forward');
        const ours = meta.delegates.filter((d) => d.id === 'XnnpackBackend').map((d) => d.graph?.nodeCounts);
        expect(ours).toEqual(fx.xnnpack.delegates.map((d) => d.nodes));
        for (const c of fx.methods.forward.cases!) {
          const outs = await program.execute('forward', c.inputs.map(officialInput) as never);
          expect(outs.length).toBe(c.outputs!.length);
          c.outputs!.forEach((ref, k) => compare(`${entry.name}/${c.name}`, mode, fx, k, outs[k], ref as OfficialTensor));
        }
      } finally {
        program.dispose();
      }
    });
  }
}

describe('XNNPACK node types against the official runtime', () => {
  it('covers every node type of the schema but the ones no official export contains', () => {
    const schema = fs.readFileSync(path.join(repoRoot, 'native', 'schema', 'xnnpack.fbs'), 'utf8');
    const union = /union XNodeUnion\s*\{([^}]*)\}/.exec(schema)![1];
    const all = union
      .split(',')
      .map((s) => s.split(':')[0].trim())
      .filter(Boolean)
      .map((s) => s.replace(/^XNN/, ''));
    expect(all.length).toBe(47);
    // Never emitted by the official partitioner (INDEX.json "probes" has what it made of them).
    const neverEmitted = ['ArgMaxPooling2d', 'ScaledDotProductAttention', 'ELU'];
    for (const node of neverEmitted) expect(index.probes.some((p) => p.node === node)).toBe(true);
    const missing = all.filter((t) => !index.nodeTypesCovered.includes(t) && !neverEmitted.includes(t));
    expect(missing).toEqual([]);
  });

  describe('XNNPACK operators and our loops (as built)', () => {
    runFixtures('default');
  });

  describe('our reference loops (ETN_XNNPACK_REFERENCE=1)', () => {
    // Read when a delegate is created, i.e. when the method is first loaded.
    let saved: string | undefined;
    it('enables the reference mode', () => {
      saved = process.env.ETN_XNNPACK_REFERENCE;
      process.env.ETN_XNNPACK_REFERENCE = '1';
    });
    runFixtures('reference');
    it('restores the environment', () => {
      if (saved === undefined) delete process.env.ETN_XNNPACK_REFERENCE;
      else process.env.ETN_XNNPACK_REFERENCE = saved;
    });
  });
});

// ---------------------------------------------------------------------------
// Node types no official export contains

/** An XnnpackBackend payload (XH00 header + XNNGraph) compiled with flatc from its JSON form. */
function xnnpackPayload(graph: object): number[] {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-xnn-'));
  try {
    fs.writeFileSync(path.join(tmp, 'graph.json'), JSON.stringify(graph));
    const schema = path.join(repoRoot, 'native', 'schema', 'xnnpack.fbs');
    execFileSync('flatc', ['--binary', '-o', tmp, schema, path.join(tmp, 'graph.json')], { stdio: 'pipe' });
    const fb = fs.readFileSync(path.join(tmp, 'graph.bin'));
    const padded = Math.ceil(fb.length / 16) * 16;
    const header = Buffer.alloc(32);
    header.write('XH00', 4, 'latin1');
    header.writeUInt16LE(30, 8);
    header.writeUInt32LE(32, 10);
    header.writeUInt32LE(fb.length, 14);
    header.writeUInt32LE(32 + padded, 18);
    header.writeBigUInt64LE(0n, 22);
    return [...header, ...fb, ...Buffer.alloc(padded - fb.length)];
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const xnnTensor = (id: number, dims: number[], externalId: number, flags: number): object => ({
  xvalue_union_type: 'XNNTensorValue',
  xvalue_union: { datatype: 'xnn_datatype_fp32', num_dims: dims.length, dims, external_id: externalId, flags, id_out: id },
});

/** A program whose forward is one XnnpackBackend delegate: the node, over fp32 externals [0, n). */
function oneNodeProgram(node: object, dims: number[][], inputs: number): Uint8Array {
  const n = dims.length;
  const payload = xnnpackPayload({
    version: '0',
    xnodes: [node],
    xvalues: dims.map((d, i) => xnnTensor(i, d, i, i < inputs ? 1 : 2)),
    num_externs: n,
    constant_data: [{ offset: 0, size: 0 }],
  });
  const ids = dims.map((_, i) => i);
  return compilePte({
    version: 0,
    execution_plan: [
      {
        name: 'forward',
        values: dims.map((d, i) => tensorValue(d, i < inputs ? {} : { memoryId: 1 })),
        inputs: ids.slice(0, inputs),
        outputs: ids.slice(inputs),
        chains: [
          {
            inputs: ids.slice(0, inputs),
            outputs: ids.slice(inputs),
            instructions: [{ instr_args_type: 'DelegateCall', instr_args: { delegate_index: 0, args: ids } }],
          },
        ],
        delegates: [{ id: 'XnnpackBackend', processed: { location: 'INLINE', index: 0 }, compile_specs: [] }],
        non_const_buffer_sizes: [0, dims.slice(inputs).reduce((a, d) => a + 4 * d.reduce((x, y) => x * y, 1), 0)],
      },
    ],
    backend_delegate_data: [{ data: payload }],
  });
}

async function loadError(bytes: Uint8Array): Promise<ExecuTorchError> {
  const program = await Program.load(bytes);
  try {
    const err = await program.loadMethod('forward').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecuTorchError);
    return err as ExecuTorchError;
  } finally {
    program.dispose();
  }
}

describe('XNNPACK node types no official export contains', () => {
  it('refuses ScaledDotProductAttention with NotSupported naming the node', async () => {
    const qkv = [1, 2, 4, 8];
    const bytes = oneNodeProgram(
      {
        xnode_union_type: 'XNNScaledDotProductAttention',
        xnode_union: { query_id: 0, key_id: 1, value_id: 2, scale_id: 3, mask_id: 4, output_id: 5, flags: 0 },
      },
      [qkv, qkv, qkv, [1], [4, 4], qkv],
      5,
    );
    const err = await loadError(bytes);
    expect(err.code).toBe('NotSupported');
    expect(err.message).toMatch(/XnnpackBackend: node 0 ScaledDotProductAttention .*not supported/);
    expect(err.message).toMatch(/method 'forward', delegate 0/);
  });

  it('refuses ArgMaxPooling2d with NotSupported naming the node', async () => {
    const bytes = oneNodeProgram(
      {
        xnode_union_type: 'XNNArgMaxPooling2d',
        xnode_union: { pooling_height: 1, pooling_width: 4, input_id: 0, output_value_id: 1, output_index_id: 2 },
      },
      [[1, 4, 4, 3], [1, 4, 1, 3], [1, 4, 1, 3]],
      1,
    );
    const err = await loadError(bytes);
    expect(err.code).toBe('NotSupported');
    expect(err.message).toMatch(/XnnpackBackend: node 0 ArgMaxPooling2d .*not supported/);
  });

  it('the same program shape with a node we run works (the harness above is sound)', async () => {
    const bytes = oneNodeProgram(
      { xnode_union_type: 'XNNAbs', xnode_union: { input_id: 0, output_id: 1 } },
      [[2, 3], [2, 3]],
      1,
    );
    const program = await Program.load(bytes);
    try {
      const [y] = await program.execute('forward', [new Tensor(new Float32Array([-1, 2, -3, 4, -5, 6]), [2, 3])]);
      expect(Array.from((y as Tensor).data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      program.dispose();
    }
  });
});

// ---------------------------------------------------------------------------
// Malformed payloads: bit flips in the XNNGraph of every fixture (the node and value
// tables this suite exercises: deconvolution, int8, fp16 / bf16) must give results or
// ExecuTorchErrors, never a crash.

/** [start, end) of the XNNGraph flatbuffer of the first XnnpackBackend payload in a file. */
function graphRange(bytes: Uint8Array): [number, number] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const at = buf.indexOf('XH00', 0, 'latin1') - 4;
  expect(at).toBeGreaterThanOrEqual(0);
  return [at + buf.readUInt32LE(at + 10), at + buf.readUInt32LE(at + 10) + buf.readUInt32LE(at + 14)];
}

describe('XNNPACK payload bit flips', () => {
  const FLIPS = Number(process.env.XNNPACK_NODES_MUTATIONS ?? 500);
  it(`survives ${FLIPS} seeded flips per fixture with only ExecuTorchErrors`, async () => {
    const random = rng(20261129);
    const tally = new Map<string, number>();
    for (const entry of index.fixtures) {
      const fx = fixture(entry);
      const original = new Uint8Array(fs.readFileSync(path.join(dir, entry.pte)));
      const [start, end] = graphRange(original);
      const inputs = fx.methods.forward.cases![0].inputs.map(officialInput);
      for (let i = 0; i < FLIPS; i++) {
        const bytes = new Uint8Array(original);
        const flips = 1 + Math.floor(random() * 3);
        for (let f = 0; f < flips; f++) bytes[start + Math.floor(random() * (end - start))] ^= 1 << Math.floor(random() * 8);
        let outcome = 'ran';
        try {
          const program = await Program.load(bytes, { threads: 1, memoryLimit: 64 * 1024 * 1024 });
          try {
            await program.execute('forward', inputs as never);
          } finally {
            program.dispose();
          }
        } catch (err) {
          if (!(err instanceof ExecuTorchError)) throw err;
          outcome = err.code;
        }
        tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
      }
    }
    if (process.env.XNNPACK_NODES_REPORT) console.log('payload bit flips:', Object.fromEntries(tally));
    // Enough flips must get past the verifier to run, or be refused deeper in (shapes,
    // unsupported parameters, missing named data), or the test proves little.
    expect(tally.get('ran') ?? 0).toBeGreaterThan(200);
    expect([...tally.keys()].length).toBeGreaterThanOrEqual(4);
  }, 120_000);
});

// Field-level mutations: the XNNGraph decoded to JSON with flatc, one node or value field
// changed (ids, dims, kernel / stride / padding sizes, axes, quantization parameters,
// datatypes), re-encoded to the same size and put back into the file.
describe('XNNPACK payload field mutations', () => {
  const schema = path.join(repoRoot, 'native', 'schema', 'xnnpack.fbs');
  const DATATYPES = ['xnn_datatype_fp32', 'xnn_datatype_fp16', 'xnn_datatype_bf16', 'xnn_datatype_qint8',
    'xnn_datatype_qint32', 'xnn_datatype_qcint8', 'xnn_datatype_qcint32', 'xnn_datatype_qdint8', 'xnn_datatype_int32'];

  function decode(tmp: string, graph: Uint8Array): Record<string, unknown> {
    fs.writeFileSync(path.join(tmp, 'g.bin'), graph);
    execFileSync('flatc', ['--json', '--raw-binary', '-o', tmp, schema, '--', path.join(tmp, 'g.bin')], { stdio: 'pipe' });
    // flatc writes non-finite floats bare and keys unquoted: make it JSON.
    const text = fs
      .readFileSync(path.join(tmp, 'g.json'), 'utf8')
      .replace(/^(\s*)([A-Za-z_][A-Za-z0-9_]*):/gm, '$1"$2":')
      .replace(/:\s*(-?)(inf|nan)\b/g, ': "$1$2"')
      .replace(/\b18446744073709551615\b/g, '"U64MAX"');  // named-data offsets: beyond a double's precision
    return JSON.parse(text) as Record<string, unknown>;
  }

  const encodeJson = (o: unknown): string =>
    JSON.stringify(o).replace(/"(-?)(inf|nan)"/g, '$1$2').replace(/"U64MAX"/g, '18446744073709551615');

  /** Every numeric or datatype leaf under a node / value, as [container, key]. */
  function leaves(o: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []): typeof out {
    if (Array.isArray(o)) o.forEach((v, i) => (typeof v === 'object' && v !== null ? leaves(v, out) : out.push([o, i])));
    else if (typeof o === 'object' && o !== null)
      for (const [k, v] of Object.entries(o)) {
        if (typeof v === 'object' && v !== null) leaves(v, out);
        else if (typeof v === 'number' || (k === 'datatype' && typeof v === 'string')) out.push([o as Record<string, unknown>, k]);
      }
    return out;
  }

  // XNNPACK_NODES_MUTATIONS=N for a longer run (e.g. under npm run test:asan).
  const MUTATIONS = Number(process.env.XNNPACK_NODES_MUTATIONS ?? 60);
  it(`survives ${MUTATIONS} mutated fields per fixture with only ExecuTorchErrors`, async () => {
    const random = rng(20261130);
    const tally = new Map<string, number>();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-xnn-mut-'));
    try {
      for (const entry of index.fixtures) {
        const fx = fixture(entry);
        const original = new Uint8Array(fs.readFileSync(path.join(dir, entry.pte)));
        const [start, end] = graphRange(original);
        const graph = decode(tmp, original.subarray(start, end));
        const inputs = fx.methods.forward.cases![0].inputs.map(officialInput);
        const targets = [...(graph.xnodes as unknown[]), ...(graph.xvalues as unknown[])];
        for (let i = 0; i < MUTATIONS; i++) {
          const copy = JSON.parse(JSON.stringify(graph)) as Record<string, unknown>;
          const all = [...(copy.xnodes as unknown[]), ...(copy.xvalues as unknown[])];
          const fields = leaves(all[Math.floor(random() * targets.length)]);
          if (fields.length === 0) continue;
          const [holder, key] = fields[Math.floor(random() * fields.length)];
          const old = (holder as Record<string | number, unknown>)[key];
          const r = random();
          let value: unknown;
          if (typeof old === 'string') value = DATATYPES[Math.floor(random() * DATATYPES.length)];
          else if (!Number.isInteger(old)) value = [0.5, -1, 1e30, 1e-30, 3][Math.floor(random() * 5)] * (old as number);
          else value = r < 0.3 ? (old as number) + 1 : r < 0.6 ? 1 + Math.floor(random() * 70) : r < 0.8 ? 4294967295 : 65536 + Math.floor(random() * 1e6);
          if (value === old || value === 0) continue;
          (holder as Record<string | number, unknown>)[key] = value;
          fs.writeFileSync(path.join(tmp, 'm.json'), encodeJson(copy));
          try {
            execFileSync('flatc', ['--binary', '-o', tmp, schema, path.join(tmp, 'm.json')], { stdio: 'pipe' });
          } catch {
            tally.set('unencodable', (tally.get('unencodable') ?? 0) + 1);  // e.g. beyond a field's range
            continue;
          }
          const encoded = fs.readFileSync(path.join(tmp, 'm.bin'));
          if (encoded.length !== end - start) {
            tally.set('resized', (tally.get('resized') ?? 0) + 1);
            continue;
          }
          const bytes = new Uint8Array(original);
          bytes.set(encoded, start);
          let outcome = 'ran';
          try {
            const program = await Program.load(bytes, { threads: 1, memoryLimit: 64 * 1024 * 1024 });
            try {
              await program.execute('forward', inputs as never);
            } finally {
              program.dispose();
            }
          } catch (err) {
            if (!(err instanceof ExecuTorchError)) throw err;
            outcome = err.code;
          }
          tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
        }
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    if (process.env.XNNPACK_NODES_REPORT) console.log('payload field mutations:', Object.fromEntries(tally));
    expect(tally.get('InvalidProgram') ?? 0).toBeGreaterThan(100);
    expect(tally.get('ran') ?? 0).toBeGreaterThan(50);
  }, Math.max(120_000, MUTATIONS * 1000));
});
