// Weight-only quantized linears ('8w', '4w'): the weight is stored quantized in the
// program's constant segment and turned back into float32 by a portable kernel in
// front of the linear, which stays an fp32 FullyConnected (now with a run-time filter).
// The math is torchao's IntxWeightOnlyConfig: y = x (codes * scales)^T + b, activations
// untouched.
//
//   '8w': int8 codes [OC, IC], float32 scales [OC]   -> dequantize_per_channel (axis 0)
//   '4w': int4 codes [OC, IC / 2] (two per byte), float32 scales [OC, IC / 32]
//         -> embedding_4bit with indices 0..OC-1 (the one portable kernel both runtimes
//            have that expands blockwise int4; quantized_decomposed has no
//            dequantize_per_channel_group kernel)
//
// Why not XNNPACK's own weight-only kernels: XNNPACK has no fp32 x blockwise-int4 fully
// connected at all, and its fp32 x qcint8 (f32_qc8w) one is refused by our
// XnnpackBackend (it runs qcint8 filters only with qint8 or qdint8 inputs).
//
// Each dequantize node is placed just before the run of XNNPACK nodes that holds its
// linear, not just before the linear: a portable kernel between two XNNPACK nodes would
// split their delegate in two. The float weights of one run are alive at once (planned
// memory grows by about one decoder layer's float weights).
import { ExecuTorchError } from '../../runtime/errors';
import { Graph, Node, TensorValue, arg } from '../graph/graph';
import { dequantizePerChannel } from '../graph/ops/dequantize';
import { embedding4bit } from '../graph/ops/embedding';
import { LINEAR_OP, linearOperands } from '../graph/ops/linear';
import { bytesSource } from '../pte/program-spec';
import { floatsOf, packInt4HighFirstAsync, quantizeInt4GroupsAsync, quantizeInt8RowsAsync, QuantizedRows } from './quantize-weights';
import { sharedQuantization } from './shared-quantization';

export type WeightOnlyScheme = '8w' | '4w';
/** Group size of '4w' (optimum-executorch's default qlinear_group_size). */
export const WEIGHT_ONLY_INT4_GROUP_SIZE = 32;

async function readFloats(weight: TensorValue): Promise<Float32Array> {
  return floatsOf(await weight.source!.read());
}

/** The quantization of a [rows, cols] weight under a weight-only scheme. */
export async function quantizeWeightOnly(weight: TensorValue, scheme: WeightOnlyScheme): Promise<QuantizedRows> {
  const [rows, cols] = weight.shape as number[];
  const w = await readFloats(weight);
  return scheme === '8w' ? quantizeInt8RowsAsync(w, rows, cols) : quantizeInt4GroupsAsync(w, rows, cols, WEIGHT_ONLY_INT4_GROUP_SIZE);
}

/** Appends the constants and the node that give `weight` back as float32; returns that node. */
function dequantizedWeight(g: Graph, weight: TensorValue, scheme: WeightOnlyScheme, rowIndices: (rows: number) => TensorValue): TensorValue {
  const [rows, cols] = weight.shape as number[];
  const name = weight.name ?? `value ${weight.id}`;
  const quantized = sharedQuantization(() => quantizeWeightOnly(weight, scheme), 2);
  const scalesBytes = async () => new Uint8Array((await quantized()).scales.buffer);
  if (scheme === '8w') {
    const codes = g.constant(`${name}.int8`, 'int8', [rows, cols], { size: rows * cols, read: async () => new Uint8Array((await quantized()).q.buffer) });
    const scales = g.constant(`${name}.scales`, 'float32', [rows], { size: rows * 4, read: scalesBytes });
    return dequantizePerChannel(g, codes, scales, 0);
  }
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
    let node = n;
    let dequantize: Node | undefined;
    if (`${n.op}.${n.overload}` === `${LINEAR_OP}.out` && linearOperands(g, n).weight.fromCheckpoint) {
      const floatWeight = dequantizedWeight(g, linearOperands(g, n).weight, scheme, rowIndices);
      dequantize = g.nodes.pop()!;  // built by appending; placed below
      const args = [...n.args];
      args[1] = arg.v(floatWeight);
      node = { ...n, args, attrs: { ...n.attrs, quant: scheme } };
    }
    if (!delegated(g, node)) {
      if (dequantize) ordered.push(dequantize);
      ordered.push(node);
      runStart = -1;
      continue;
    }
    if (runStart < 0) runStart = ordered.length;
    if (dequantize) ordered.splice(runStart++, 0, dequantize);
    ordered.push(node);
  }
  g.nodes.push(...ordered);
}
