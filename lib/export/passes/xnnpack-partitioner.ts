// The XNNPACK partitioner: which graph nodes XnnpackBackend runs, and how a run of
// them becomes one XNNGraph payload. Linears become FullyConnected, pointwise math
// its XNNPACK node, views StaticReshape, permutes StaticTranspose; reductions,
// embeddings, slicing, symbolic ints and the LLM custom ops stay kernel calls.
// Adding a node kind = one entry in NODE_LOWERINGS.
import { ExecuTorchError } from '../../runtime/errors';
import { Graph, Node, TensorValue, isSym, maxDim, nodeReads } from '../graph/graph';
import { LINEAR_OP, linearOperands } from '../graph/ops/linear';
import { DelegateSpec, NamedDataSpec } from '../pte/program-spec';
import { XnnGraphSpec, XnnNodeSpec, XnnValueSpec } from '../pte/xnnpack-spec';
import { xnnpackDelegate } from '../pte/xnnpack-writer';
import { sha256HexAsync } from './content-hash';
import { Partition, Partitioner } from './partition';
import { FilterQLinear, codesSource, quantizeWeight } from './quantize';
import { floatsOf } from './quantize-weights';

/** A quantized linear weight as the payload stores it (codes under their sha256). */
interface QuantizedFilter {
  scheme: FilterQLinear;
  key: string;
  size: number;
  scales: Uint16Array | Float32Array;
  /**
   * 8w with a bias: bias / scale per channel. XNNPACK's f32_qc8w (and so the official
   * runtime) computes scale * (x.q + bias), scaling the bias too; the pre-divided bias
   * gives x.(q scale)^T + bias to float32 rounding (scales are >= eps, never 0).
   */
  scaledBias?: Float32Array;
}

/** Builds the XNNGraph of one partition. */
class XnnGraphBuilder {
  readonly values: XnnValueSpec[] = [];
  readonly nodes: XnnNodeSpec[] = [];
  private readonly ids = new Map<number, number>();

  constructor(
    p: Partition,
    private readonly keys: Map<number, string>,
    readonly filters: Map<number, QuantizedFilter>,
  ) {
    p.inputs.forEach((t, k) => this.ids.set(t.id, this.add(t, { external: { id: k, kind: 'input' } })));
    p.outputs.forEach((t, k) => this.ids.set(t.id, this.add(t, { external: { id: p.inputs.length + k, kind: 'output' } })));
  }

  /** The XNN value of a graph tensor: existing, a constant, or a new internal value. */
  value(t: TensorValue): number {
    let id = this.ids.get(t.id);
    if (id === undefined) {
      id = t.role === 'constant' ? this.constant(t) : this.add(t, {});
      this.ids.set(t.id, id);
    }
    return id;
  }

  /** A new value inside the graph (e.g. the dynamically quantized input of a linear). */
  internal(spec: XnnValueSpec): number {
    return this.values.push(spec) - 1;
  }

  /** A constant value made here (e.g. the scalar of add.Scalar). */
  scalar(x: number): number {
    return this.values.push({ datatype: 'fp32', dims: [1], constant: new Uint8Array(Float32Array.of(x).buffer) }) - 1;
  }

  private constant(t: TensorValue): number {
    if (!t.source) throw new ExecuTorchError('Internal', `constant ${t.name} has no data`);
    const key = this.keys.get(t.id);
    if (key === undefined) throw new ExecuTorchError('Internal', `constant ${t.name} has no key`);
    return this.values.push({ datatype: 'fp32', dims: t.shape.map(maxDim), constant: { key, source: t.source } }) - 1;
  }

  private add(t: TensorValue, extra: Partial<XnnValueSpec>): number {
    if (t.dtype !== 'float32') throw new ExecuTorchError('Internal', `XNNPACK partition value of dtype ${t.dtype}`);
    return this.values.push({ datatype: 'fp32', dims: t.shape.map(maxDim), ...extra }) - 1;
  }
}

/** A bias divided by the filter's per-channel scales (see QuantizedFilter.scaledBias). */
async function divided(bias: TensorValue, scales: Float32Array): Promise<Float32Array> {
  const b = floatsOf(await bias.source!.read());
  return Float32Array.from(b, (v, i) => v / scales[i]);
}

/** sha256 (hex) of a constant's bytes: its named-data key, as the official writer keys weights. */
async function contentKey(t: TensorValue): Promise<string> {
  return sha256HexAsync(await t.source!.read());
}

type Lowering = (b: XnnGraphBuilder, g: Graph, n: Node) => XnnNodeSpec[];

const tensorArg = (g: Graph, n: Node, i: number): TensorValue => {
  const a = n.args[i];
  if (!('value' in a)) throw new ExecuTorchError('Internal', `${n.op} argument ${i} is not a tensor`);
  return g.tensorById(a.value);
};
const out = (g: Graph, n: Node) => g.tensorById(n.outputs[0]);

const binary =
  (op: 'Add' | 'Subtract' | 'Multiply' | 'Div'): Lowering =>
  (b, g, n) => [{ op, input1Id: b.value(tensorArg(g, n, 0)), input2Id: b.value(tensorArg(g, n, 1)), outputId: b.value(out(g, n)) }];

const scalarBinary =
  (op: 'Add' | 'Multiply'): Lowering =>
  (b, g, n) => {
    const s = n.args[1];
    if (!('float' in s) && !('int' in s)) throw new ExecuTorchError('Internal', `${n.op}: scalar operand`);
    const x = 'float' in s ? s.float : s.int;
    return [{ op, input1Id: b.value(tensorArg(g, n, 0)), input2Id: b.scalar(x), outputId: b.value(out(g, n)) }];
  };

const unary =
  (op: 'ReciprocalSquareRoot' | 'Negate' | 'Sigmoid' | 'Tanh' | 'Gelu'): Lowering =>
  (b, g, n) => [{ op, inputId: b.value(tensorArg(g, n, 0)), outputId: b.value(out(g, n)) }];

const NODE_LOWERINGS: Record<string, Lowering> = {
  'aten::add.out': binary('Add'),
  'aten::sub.out': binary('Subtract'),
  'aten::mul.out': binary('Multiply'),
  'aten::div.out': binary('Div'),
  'aten::add.Scalar_out': scalarBinary('Add'),
  'aten::mul.Scalar_out': scalarBinary('Multiply'),
  'aten::rsqrt.out': unary('ReciprocalSquareRoot'),
  'aten::neg.out': unary('Negate'),
  'aten::sigmoid.out': unary('Sigmoid'),
  'aten::tanh.out': unary('Tanh'),
  'aten::gelu.out': unary('Gelu'),
  'aten::view_copy.out': (b, g, n) => {
    const o = out(g, n);
    // One symbolic dim at most: XNNPACK infers a 0 entry from the input's size.
    const newShape = o.shape.map((d) => (isSym(d) ? 0 : d));
    return [{ op: 'StaticReshape', numDims: newShape.length, newShape, inputId: b.value(tensorArg(g, n, 0)), outputId: b.value(o), flags: 0 }];
  },
  'aten::permute_copy.out': (b, g, n) => {
    const dims = n.args[1];
    if (!('ints' in dims)) throw new ExecuTorchError('Internal', 'permute dims');
    const perm = dims.ints.map((d) => Number(d));
    return [{ op: 'StaticTranspose', numDims: perm.length, perm, inputId: b.value(tensorArg(g, n, 0)), outputId: b.value(out(g, n)), flags: 0 }];
  },
  [`${LINEAR_OP}.out`]: (b, g, n) => {
    const { x, weight, bias } = linearOperands(g, n);
    const q = b.filters.get(weight.id);
    if (q) return quantizedLinear(b, g, n, q);
    return [
      {
        op: 'FullyConnected',
        input1Id: b.value(x),
        filterId: b.value(weight),
        biasId: bias ? b.value(bias) : undefined,
        outputId: b.value(out(g, n)),
        flags: 0,
      },
    ];
  },
};

/**
 * Quantized-filter linear: FullyConnected with the int4 (blockwise, bf16 scales) or int8
 * (per output channel) filter, fp32 bias and output. Dynamically quantized schemes first
 * Convert the fp32 input to qdint8 (a scale and zero point per row, chosen per call);
 * weight-only 8w takes the fp32 input as it is (XNNPACK's f32_qc8w).
 */
function quantizedLinear(b: XnnGraphBuilder, g: Graph, n: Node, q: QuantizedFilter): XnnNodeSpec[] {
  const { x, weight, bias } = linearOperands(g, n);
  const filter = b.internal({
    datatype: q.scheme === '8da4w' ? 'qbint4' : 'qcint8',
    dims: weight.shape.map(maxDim),
    constant: { key: q.key, source: codesSource(weight, q.scheme, q.size) },
    quant:
      q.scheme === '8da4w'
        ? { kind: 'perChannelGroup', channelDim: 0, groupSize: 32, scales: q.scales }
        : { kind: 'perChannel', channelDim: 0, scales: q.scales as Float32Array },
  });
  const fc = (input: number, biasId = bias ? b.value(bias) : undefined): XnnNodeSpec => ({
    op: 'FullyConnected', input1Id: input, filterId: filter, biasId, outputId: b.value(out(g, n)), flags: 0,
  });
  if (q.scheme === '8w') {
    const scaled = q.scaledBias && b.internal({ datatype: 'fp32', dims: [q.scaledBias.length], constant: new Uint8Array(q.scaledBias.buffer) });
    return [fc(b.value(x), scaled)];
  }
  const xq = b.internal({ datatype: 'qdint8', dims: x.shape.map(maxDim), quant: { kind: 'perTokenDynamic', numNonbatchDims: 1 } });
  return [{ op: 'Convert', inputId: b.value(x), outputId: xq }, fc(xq)];
}

/**
 * Whether XnnpackBackend runs a node. Linears: float, 8da4w / 8da8w / 8w (quantized
 * filter in the payload), or 4w (a float filter dequantized outside, see weight-only-linear).
 */
export function supportedByXnnpack(g: Graph, n: Node): boolean {
  const key = `${n.op}.${n.overload}`;
  if (!(key in NODE_LOWERINGS)) return false;
  if (key === 'aten::gelu.out' && !(n.args[1] && 'str' in n.args[1] && n.args[1].str === 'none')) return false;
  if (key === 'aten::view_copy.out' && out(g, n).shape.filter(isSym).length > 1) return false;
  if (key === `${LINEAR_OP}.out` && !['none', '8da4w', '8da8w', '8w', '4w'].includes(String(n.attrs?.quant ?? 'none'))) return false;
  const tensors = n.outputs.map((id) => g.tensorById(id));
  return tensors.every((t) => t.dtype === 'float32');
}

/** XnnpackBackend as a Partitioner; named data of all payloads collects in `namedData`. */
export class XnnpackPartitioner implements Partitioner {
  readonly namedData: NamedDataSpec[] = [];
  private readonly keys = new Set<string>();
  // Content keys by constant value id: weights are read (and hashed) here one at a
  // time, then read again when the program is written, so none stays in memory.
  private readonly constantKeys = new Map<number, string>();
  private readonly filters = new Map<number, QuantizedFilter>();
  private graph?: Graph;

  supports(g: Graph, n: Node): boolean {
    return supportedByXnnpack(g, n);
  }

  async lower(g: Graph, p: Partition): Promise<DelegateSpec> {
    // Value ids number one graph's values: the maps below hold for one graph at a time.
    if (this.graph !== g) {
      this.graph = g;
      this.constantKeys.clear();
      this.filters.clear();
    }
    for (const n of p.nodes) {
      const scheme = n.attrs?.quant;
      let quantized = -1;  // the weight stored as codes, not as floats
      if (scheme === '8da4w' || scheme === '8da8w' || scheme === '8w') {
        const { weight } = linearOperands(g, n);
        quantized = weight.id;
        if (!this.filters.has(weight.id)) {
          const { codes, scales } = await quantizeWeight(weight, scheme);
          const { bias } = linearOperands(g, n);
          const scaledBias = scheme === '8w' && bias ? await divided(bias, scales as Float32Array) : undefined;
          this.filters.set(weight.id, { scheme, key: await sha256HexAsync(codes), size: codes.length, scales, scaledBias });
        }
      }
      for (const id of nodeReads(n)) {
        const v = g.values[id];
        if (v.kind !== 'tensor' || v.role !== 'constant' || id === quantized || this.constantKeys.has(id)) continue;
        this.constantKeys.set(id, await contentKey(v));
      }
    }
    const b = new XnnGraphBuilder(p, this.constantKeys, this.filters);
    for (const n of p.nodes) b.nodes.push(...NODE_LOWERINGS[`${n.op}.${n.overload}`](b, g, n));
    const graph: XnnGraphSpec = { values: b.values, nodes: b.nodes };
    const { delegate, namedData } = xnnpackDelegate(graph);
    for (const d of namedData) {
      if (this.keys.has(d.key)) continue;
      this.keys.add(d.key);
      this.namedData.push(d);
    }
    return delegate;
  }
}
