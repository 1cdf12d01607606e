// Weight-only int4 linears ('4w'): the weight is stored quantized in the program's
// constant segment and turned back into float32 by a portable kernel in front of the
// linear, which stays an fp32 FullyConnected (now with a run-time filter). The math is
// torchao's IntxWeightOnlyConfig: y = x (codes * scales)^T + b, activations untouched.
//
//   int4 codes [OC, IC / 2] (two per byte), float32 scales [OC, IC / 32]
//   -> embedding_4bit with indices 0..OC-1 (the one portable kernel both runtimes have
//      that expands blockwise int4; quantized_decomposed has no
//      dequantize_per_channel_group kernel)
//
// Why not an XNNPACK filter, as for '8w' (f32_qc8w, see xnnpack-partitioner): XNNPACK has
// no fp32 x blockwise-int4 fully connected (the official runtime refuses the node). The
// price: the float weights are rebuilt and re-packed on every call, so decode is orders
// of magnitude slower than 8da4w or 8w.
//
// Each dequantize node is placed just before the run of XNNPACK nodes that holds its
// linear, not just before the linear: a portable kernel between two XNNPACK nodes would
// split their delegate in two. The float weights of one run are alive at once (planned
// memory grows by about one decoder layer's float weights).
import { ExecuTorchError } from '../../runtime/errors';
import { Graph, Node, TensorValue, arg } from '../graph/graph';
import { embedding4bit } from '../graph/ops/embedding';
import { LINEAR_OP, linearOperands } from '../graph/ops/linear';
import { bytesSource } from '../pte/program-spec';
import { floatsOf, packInt4HighFirstAsync, quantizeInt4GroupsAsync, QuantizedRows } from './quantize-weights';
import { sharedQuantization } from './shared-quantization';

export type WeightOnlyScheme = '4w';
/** Group size of '4w' (optimum-executorch's default qlinear_group_size). */
export const WEIGHT_ONLY_INT4_GROUP_SIZE = 32;

async function readFloats(weight: TensorValue): Promise<Float32Array> {
  return floatsOf(await weight.source!.read());
}

/** The quantization of a [rows, cols] weight under a weight-only scheme. */
export async function quantizeWeightOnly(weight: TensorValue, scheme: WeightOnlyScheme): Promise<QuantizedRows> {
  const [rows, cols] = weight.shape as number[];
  const w = await readFloats(weight);
  return quantizeInt4GroupsAsync(w, rows, cols, WEIGHT_ONLY_INT4_GROUP_SIZE);
}

/** Appends the constants and the node that give `weight` back as float32; returns that node. */
function dequantizedWeight(g: Graph, weight: TensorValue, scheme: WeightOnlyScheme, rowIndices: (rows: number) => TensorValue): TensorValue {
  const [rows, cols] = weight.shape as number[];
  const name = weight.name ?? `value ${weight.id}`;
  const quantized = sharedQuantization(() => quantizeWeightOnly(weight, scheme), 2);
  const scalesBytes = async () => new Uint8Array((await quantized()).scales.buffer);
  if (cols % WEIGHT_ONLY_INT4_GROUP_SIZE !== 0)
    throw new ExecuTorchError('NotSupported', `4w: ${name} has ${cols} input channels, not a multiple of ${WEIGHT_ONLY_INT4_GROUP_SIZE}`);
  const groups = cols / WEIGHT_ONLY_INT4_GROUP_SIZE;
  const codes = g.constant(`${name}.int4`, 'uint8', [rows, cols / 2], {
    size: (rows * cols) / 2,
    read: async () => packInt4HighFirstAsync((await quantized()).q, rows, cols),
  });
  const scales = g.constant(`${name}.scales`, 'float32', [rows, groups], { size: rows * groups * 4, read: scalesBytes });
  return embedding4bit(g, codes, scales, rowIndices(rows));
}

/**
 * Stores the checkpoint weight of every linear quantized, dequantized by a kernel in
 * front of the XNNPACK run holding the linear. `delegated` says which nodes XNNPACK runs.
 */
export function weightOnlyLinears(g: Graph, scheme: WeightOnlyScheme, delegated: (g: Graph, n: Node) => boolean): void {
  // indices 0..rows-1, one constant per row count
  const aranges = new Map<number, TensorValue>();
  const rowIndices = (rows: number) => {
    let t = aranges.get(rows);
    if (!t) {
      const data = BigInt64Array.from({ length: rows }, (_, i) => BigInt(i));
      t = g.constant(`arange_${rows}`, 'int64', [rows], bytesSource(new Uint8Array(data.buffer)));
      aranges.set(rows, t);
    }
    return t;
  };

  const original = [...g.nodes];
  g.nodes.length = 0;
  const ordered: Node[] = [];
  let runStart = -1;  // where the current run of delegated nodes begins in `ordered`
  for (const n of original) {
    let nodes = [n];
    let dequantize: Node | undefined;
    if (`${n.op}.${n.overload}` === `${LINEAR_OP}.out` && linearOperands(g, n).weight.fromCheckpoint) {
      const { weight, bias, out } = linearOperands(g, n);
      const floatWeight = dequantizedWeight(g, weight, scheme, rowIndices);
      dequantize = g.nodes.pop()!;  // built by appending; placed below
      nodes = withRuntimeFilter(g, n, floatWeight, bias, out, scheme);
    }
    if (!delegated(g, nodes[0])) {
      if (dequantize) ordered.push(dequantize);
      ordered.push(...nodes);
      runStart = -1;
      continue;
    }
    if (runStart < 0) runStart = ordered.length;
    if (dequantize) ordered.splice(runStart++, 0, dequantize);
    ordered.push(...nodes);
  }
  g.nodes.push(...ordered);
}

/**
 * The linear over the dequantized weight. A bias becomes a separate add: the official
 * runtime's XNNPACK crashes on a FullyConnected whose filter is computed at run time
 * and whose bias is static (seen with Qwen 2's q/k/v biases).
 */
function withRuntimeFilter(g: Graph, n: Node, floatWeight: TensorValue, bias: TensorValue | undefined, out: TensorValue, scheme: WeightOnlyScheme): Node[] {
  const attrs = { ...n.attrs, quant: scheme };
  if (!bias) return [{ ...n, args: [n.args[0], arg.v(floatWeight), arg.none()], attrs }];
  const product = g.activation(out.dtype, out.shape);
  return [
    { ...n, args: [n.args[0], arg.v(floatWeight), arg.none()], outputs: [product.id], attrs },
    { op: 'aten::add', overload: 'out', args: [arg.v(product), arg.v(bias), arg.int(1)], outputs: [out.id] },
  ];
}
