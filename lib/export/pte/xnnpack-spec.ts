// A TypeScript description of an XNNPACK delegate graph (fb_xnnpack.XNNGraph, our
// native/schema/xnnpack.fbs), what the XnnpackBackend payload writer takes.
//
// Values are referred to by their index in `values` (that index is the serialized
// id_out, as the official writer numbers them). Nodes are table-driven: every member of
// the schema's XNodeUnion is a node `op` (the union name without its `XNN` prefix),
// and its fields are the fields of its flatbuffer table, in the generated object API's
// camelCase names, checked per op by the compiler:
//
//   { op: 'Add', input1Id: 0, input2Id: 1, outputId: 2 }
//   { op: 'FullyConnected', input1Id: 0, filterId: 1, biasId: 2, outputId: 3 }
//   { op: 'StaticTranspose', numDims: 3, perm: [0, 2, 1], inputId: 3, outputId: 4 }
//
// An id field left out means "none" (XNN_INVALID_VALUE_ID): a FullyConnected without
// bias, the unused inputs of Concatenate2..4. Other fields default as the schema does (0).
import type * as flatbuffers from 'flatbuffers';
import {
  XNodeUnion,
  XNNArgMaxPooling2dT,
  XNNELUT,
  XNNFullyConnectedT,
  XNNLeakyReLUT,
  XNNScaledDotProductAttentionT,
  XNNStaticConstantPadT,
  XNNStaticReshapeT,
  XNNStaticResizeBilinear2DT,
  XNNStaticSliceT,
  XNNStaticTransposeT,
  _XNNCatT,
  _XNNNode1x1T,
  _XNNNode2x1T,
  _XNNNodeConvT,
  _XNNPooling2DT,
} from './generated/xnnpack_generated';
import type { ByteSource } from './program-spec';

/** xnn_datatype_* without the prefix. */
export type XnnDatatype =
  | 'fp32'
  | 'fp16'
  | 'qint8'
  | 'quint8'
  | 'qint32'
  | 'qcint8'
  | 'qcint32'
  | 'qcint4'
  | 'qdint8'
  | 'qbint4'
  | 'qpint8'
  | 'int32'
  | 'pfp32'
  | 'bf16';

export type XnnQuantSpec =
  /** Static per-tensor (qint8, quint8, qint32). */
  | { kind: 'perTensor'; scale: number; zeroPoint: number }
  /**
   * Per channel (qcint8, qcint4, qcint32): fp32 scales, stored as named data
   * `scale_<sha256>` (zero point 0; 8 is implied for qcint4).
   */
  | { kind: 'perChannel'; channelDim: number; scales: Float32Array | number[] }
  /**
   * Blockwise (qbint4): scales [OC * IC / groupSize], stored as bf16 named data
   * `scale_<sha256>`. Give bf16 bits (Uint16Array) or floats (rounded to nearest even).
   */
  | { kind: 'perChannelGroup'; channelDim: number; groupSize: number; scales: Uint16Array | Float32Array | number[] }
  /** Dynamic quantization (qdint8): one scale and zero point per row of the last `numNonbatchDims` dims. */
  | { kind: 'perTokenDynamic'; numNonbatchDims: number };

/**
 * Constant data of a value. Bytes: the writer registers them as named data under their
 * sha256 (hex), as the official writer does. Or a key and a lazy source (the key must be
 * the sha256 of the bytes; the writer checks it when the program is written), so weights
 * need not sit in memory between lowering and writing.
 */
export type XnnConstantSpec = Uint8Array | { key: string; source: ByteSource };

export interface XnnValueSpec {
  datatype: XnnDatatype;
  /** Physical dims (NHWC for convolutions, [OC, IC] for FullyConnected filters). [] is written as [1], as the official writer does. */
  dims: number[];
  /**
   * A value bound to a DelegateCall argument: `id` is its position in the call's args
   * (inputs first, then outputs); flags EXTERNAL_INPUT / EXTERNAL_OUTPUT.
   */
  external?: { id: number; kind: 'input' | 'output' };
  /** Constant data (weights, biases). Packing is the caller's: see packInt4ForXnnpack. */
  constant?: XnnConstantSpec;
  quant?: XnnQuantSpec;
}

/** The node tables, one per XNodeUnion member; the compiler checks that none is missing. */
export const XNN_NODE_TABLES = {
  Add: _XNNNode2x1T,
  FullyConnected: XNNFullyConnectedT,
  Softmax: _XNNNode1x1T,
  Sigmoid: _XNNNode1x1T,
  StaticTranspose: XNNStaticTransposeT,
  Clamp: _XNNNode1x1T,
  Conv2d: _XNNNodeConvT,
  Div: _XNNNode2x1T,
  StaticResizeBilinear2D: XNNStaticResizeBilinear2DT,
  StaticConstantPad: XNNStaticConstantPadT,
  AvgPooling2d: _XNNPooling2DT,
  Minimum: _XNNNode2x1T,
  DepthwiseConv2d: _XNNNodeConvT,
  MaxPooling2d: _XNNPooling2DT,
  Multiply: _XNNNode2x1T,
  Subtract: _XNNNode2x1T,
  Floor: _XNNNode1x1T,
  Convert: _XNNNode1x1T,
  GlobalAvgPooling2d: _XNNNode1x1T,
  StaticReshape: XNNStaticReshapeT,
  ArgMaxPooling2d: XNNArgMaxPooling2dT,
  SquareRoot: _XNNNode1x1T,
  Ceiling: _XNNNode1x1T,
  Hardswish: _XNNNode1x1T,
  LeakyReLU: XNNLeakyReLUT,
  Maximum: _XNNNode2x1T,
  Negate: _XNNNode1x1T,
  Square: _XNNNode1x1T,
  ELU: XNNELUT,
  Abs: _XNNNode1x1T,
  PReLU: _XNNNode2x1T,
  Concatenate2: _XNNCatT,
  Concatenate3: _XNNCatT,
  Concatenate4: _XNNCatT,
  StaticSlice: XNNStaticSliceT,
  ScaledDotProductAttention: XNNScaledDotProductAttentionT,
  BatchMatrixMultiply: _XNNNode2x1T,
  Concatenate5: _XNNCatT,
  ConvTranspose2d: _XNNNodeConvT,
  ReciprocalSquareRoot: _XNNNode1x1T,
  Log: _XNNNode1x1T,
  Gelu: _XNNNode1x1T,
  Tanh: _XNNNode1x1T,
  Exp: _XNNNode1x1T,
  Sin: _XNNNode1x1T,
  Copy: _XNNNode1x1T,
  Cos: _XNNNode1x1T,
} satisfies { [K in XnnNodeOp]: new () => { pack(b: flatbuffers.Builder): flatbuffers.Offset } };

type StripXnn<T> = T extends `XNN${infer N}` ? N : never;
/** 'Add' | 'FullyConnected' | ... : every node of the schema. */
export type XnnNodeOp = StripXnn<Exclude<keyof typeof XNodeUnion, 'NONE'>>;

type DataFields<T> = { [P in keyof T as T[P] extends (...args: never[]) => unknown ? never : P]: T[P] };
/** The fields of op K's table (all optional: ids default to "none", the rest to the schema default). */
export type XnnNodeFields<K extends XnnNodeOp> = Partial<DataFields<InstanceType<(typeof XNN_NODE_TABLES)[K]>>>;

interface XnnNodeCommon {
  /** XNode.output_min_max: clamps the output (Add/Subtract/Multiply/Div/FullyConnected/Conv/Clamp...). */
  outputMinMax?: { min: number; max: number };
  /** XNode.debug_handle. */
  debugHandle?: number;
}

export type XnnNodeSpec = { [K in XnnNodeOp]: { op: K } & XnnNodeCommon & XnnNodeFields<K> }[XnnNodeOp];

export interface XnnGraphSpec {
  values: XnnValueSpec[];
  nodes: XnnNodeSpec[];
  /** XNNGraph.version (default "0", as the official writer). */
  version?: string;
  /**
   * XNNGraph.num_externs: the number of DelegateCall args. Default: the largest external
   * id + 1. Give it when an argument no value claims (a SymInt the partitioner passes
   * along) comes last.
   */
  numExterns?: number;
}

export const XNN_INVALID_VALUE_ID = 0xffffffff;
export const XNN_VALUE_FLAG_EXTERNAL_INPUT = 1;
export const XNN_VALUE_FLAG_EXTERNAL_OUTPUT = 2;

/** Concatenate2..5 along `axis` (the op is picked from the number of inputs). */
export function concatNode(axis: number, inputIds: number[], outputId: number): XnnNodeSpec {
  if (inputIds.length < 2 || inputIds.length > 5) throw new RangeError(`concatNode: ${inputIds.length} inputs (2..5)`);
  const op = `Concatenate${inputIds.length}` as 'Concatenate2' | 'Concatenate3' | 'Concatenate4' | 'Concatenate5';
  const [input1Id, input2Id, input3Id, input4Id, input5Id] = inputIds;
  return { op, axis, input1Id, input2Id, input3Id, input4Id, input5Id, outputId };
}
