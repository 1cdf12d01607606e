// A checkpoint whose weights are already the float values a quantized export computes
// with (codes * scales, by the exporter's own quantizer): exported as float, it is the
// reference a weight-only quantized export of the original checkpoint must reproduce
// to float precision, whatever the quantization error is. Written to a new folder
// (config and generation config copied; tied embeddings written out as lm_head.weight
// and untied, so head and table can differ as they do in the quantized program).
import * as fs from 'fs';
import * as path from 'path';
import { quantizeInt4Groups, quantizeInt4Rows, quantizeInt8Rows, QuantizedRows } from '../../lib/export/passes/quantize-weights';
import { encodeSafetensors, f32Tensor } from './safetensors-writer';

export type FakeLinear = '8w' | '4w';
export type FakeEmbedding = '8w' | '4w';

function readF32(file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const b = fs.readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new Error(`${name}: ${t.dtype}, expected F32`);
    const bytes = b.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    out.set(name, { shape: t.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) });
  }
  return out;
}

/** codes * scale, in float32 as the dequantizing kernels compute it. */
export function dequantized(q: QuantizedRows): Float32Array {
  const groupsPerRow = q.cols / q.groupSize;
  return Float32Array.from(q.q, (x, i) => Math.fround(x * q.scales[Math.floor(i / q.cols) * groupsPerRow + Math.floor((i % q.cols) / q.groupSize)]));
}

const linearQuant = (scheme: FakeLinear, w: Float32Array, [r, c]: number[]) =>
  dequantized(scheme === '8w' ? quantizeInt8Rows(w, r, c) : quantizeInt4Groups(w, r, c, 32));
const embeddingQuant = (scheme: FakeEmbedding, w: Float32Array, [r, c]: number[]) =>
  dequantized(scheme === '8w' ? quantizeInt8Rows(w, r, c) : quantizeInt4Rows(w, r, c));

/**
 * Writes `dir`: the checkpoint of `src` with every linear weight (layers' projections and
 * the head) replaced by its `qlinear` dequantization and the embedding table by its
 * `qembedding` one. A tied head is the linear quantization of the FLOAT table, as in the
 * exporter and in optimum-executorch's exports (checked against the official 8da4w + 8w /
 * 4w fixtures: the head made from the quantized table is 3-4x farther from them).
 */
export function writeFakeQuantizedCheckpoint(
  src: string,
  dir: string,
  qlinear: FakeLinear | null,
  qembedding: FakeEmbedding | null,
): void {
  fs.mkdirSync(dir, { recursive: true });
  const config = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  const weights = readF32(path.join(src, 'model.safetensors'));
  const prefix = [...weights.keys()].find((k) => k.endsWith('embed_tokens.weight'))!.replace(/embed_tokens\.weight$/, '');
  const table = weights.get(`${prefix}embed_tokens.weight`)!;
  const tied = !weights.has('lm_head.weight');
  const out: Array<ReturnType<typeof f32Tensor>> = [];
  for (const [name, t] of weights) {
    let data = t.data;
    if (name === `${prefix}embed_tokens.weight` && qembedding) data = embeddingQuant(qembedding, t.data, t.shape);
    else if (qlinear && (/\.(self_attn|mlp)\.\w+_proj\.weight$/.test(name) || name === 'lm_head.weight')) data = linearQuant(qlinear, t.data, t.shape);
    out.push(f32Tensor(name, t.shape, data));
  }
  if (tied) {
    const head = qlinear ? linearQuant(qlinear, table.data, table.shape) : table.data;
    out.push(f32Tensor('lm_head.weight', table.shape, head));
    config.tie_word_embeddings = false;
    if (config.text_config) (config.text_config as Record<string, unknown>).tie_word_embeddings = false;
  }
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 1));
  for (const f of ['generation_config.json']) if (fs.existsSync(path.join(src, f))) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(out));
}
