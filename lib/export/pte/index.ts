// The .pte writers: ProgramSpec -> .pte (program-writer), XnnGraphSpec -> XnnpackBackend
// payload (xnnpack-writer), and their inverses for round trips (program-reader,
// xnnpack-reader). The flatbuffer code under ./generated is made by flatc from
// native/schema at build time (scripts/build-ts.js).
export * from './program-spec';
export {
  writeProgram,
  writeProgramToBytes,
  planProgram,
  defaultContainerMeta,
  tensorNbytes,
} from './program-writer';
export type { WriteProgramOptions, ProgramLayout, SegmentLayout, SegmentKind } from './program-writer';
export * from './xnnpack-spec';
export {
  writeXnnpackPayload,
  xnnpackDelegate,
  packInt4ForXnnpack,
  float32ToBf16,
  sha256Hex,
  XNNPACK_BACKEND_ID,
} from './xnnpack-writer';
export type { XnnpackPayload, XnnpackPayloadOptions } from './xnnpack-writer';
export { readProgram, programSegments } from './program-reader';
export { readXnnpackPayload, splitXnnpackPayload } from './xnnpack-reader';
export type { XnnPayloadParts } from './xnnpack-reader';
export {
  SEGMENT_ALIGNMENT,
  CONSTANT_TENSOR_ALIGNMENT,
  NAMED_DATA_ALIGNMENT,
  PROGRAM_VERSION,
  readExtendedHeader,
} from './layout';
export type { ExtendedHeader } from './layout';
