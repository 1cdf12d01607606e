// The quantize pass: which linears carry quantized weights (node attrs.quant), and
// the quantized bytes of a weight, computed from the checkpoint when they are needed.
// 8da4w / 8da8w linears become XNNPACK dynamically quantized FullyConnected nodes and
// 8w ones fp32-input FullyConnected nodes with an int8 per-channel filter
// (xnnpack-partitioner); weight-only 4w ones are rewritten here (weight-only-linear).
// Codes are deterministic (quantize-weights.ts), so a weight is quantized once to learn
// its key and scales when the program is lowered, and again when it is written,
// instead of holding every quantized weight in memory in between.
import { ExecuTorchError } from '../../runtime/errors';
import { Graph, TensorValue } from '../graph/graph';
import { LINEAR_OP, LinearQuant, linearOperands } from '../graph/ops/linear';
import { ByteSource } from '../pte/program-spec';
import { float32ToBf16 } from '../pte/xnnpack-writer';
import { floatsOf, packInt4ForXnnpackAsync, quantizeInt4GroupsAsync, quantizeInt8RowsAsync } from './quantize-weights';
import { weightOnlyLinears } from './weight-only-linear';
import { supportedByXnnpack } from './xnnpack-partitioner';

/** Linear quantization schemes the exporter writes. */
export type QLinear = FilterQLinear | '4w';
/**
 * The schemes XNNPACK runs with a quantized filter in its payload: dynamically
 * quantized int8 activations (8da4w, 8da8w) or fp32 activations (8w, XNNPACK's f32_qc8w).
 */
export type FilterQLinear = '8da4w' | '8da8w' | '8w';
/** Group size of 8da4w (what optimum-executorch uses for text generation). */
export const INT4_GROUP_SIZE = 32;

/** Marks every linear whose weight comes from the checkpoint (not the exporter's own tables). */
export function quantizeLinears(g: Graph, scheme: QLinear): void {
  if (scheme === '4w') {
    weightOnlyLinears(g, scheme, supportedByXnnpack);
    return;
  }
  g.nodes.forEach((n, i) => {
    if (`${n.op}.${n.overload}` !== `${LINEAR_OP}.out`) return;
    const { weight } = linearOperands(g, n);
    if (!weight.fromCheckpoint) return;
    g.nodes[i] = { ...n, attrs: { ...n.attrs, quant: scheme as LinearQuant } };
  });
}

export interface QuantizedWeight {
  /** Packed codes as XNNPACK stores them: qbint4 (two per byte) or qcint8. */
  codes: Uint8Array;
  /** qbint4: bf16 bits [OC * IC / 32]; qcint8: float32 [OC]. */
  scales: Uint16Array | Float32Array;
}

export async function quantizeWeight(weight: TensorValue, scheme: FilterQLinear): Promise<QuantizedWeight> {
  const [rows, cols] = weight.shape as number[];
  const w = floatsOf(await weight.source!.read());
  if (scheme === '8da4w') {
    if (cols % INT4_GROUP_SIZE !== 0)
      throw new ExecuTorchError('NotSupported', `8da4w: ${weight.name} has ${cols} input channels, not a multiple of ${INT4_GROUP_SIZE}`);
    const q = await quantizeInt4GroupsAsync(w, rows, cols, INT4_GROUP_SIZE);
    return { codes: await packInt4ForXnnpackAsync(q.q, rows, cols), scales: float32ToBf16(q.scales) };
  }
  const q = await quantizeInt8RowsAsync(w, rows, cols);
  return { codes: new Uint8Array(q.q.buffer), scales: q.scales };
}

/** The codes of a weight as a source that quantizes again when read. */
export function codesSource(weight: TensorValue, scheme: FilterQLinear, size: number): ByteSource {
  return { size, read: async () => (await quantizeWeight(weight, scheme)).codes };
}
