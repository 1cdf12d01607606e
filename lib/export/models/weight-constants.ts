// Checkpoint weights as graph constants: declared while the graph is built, read
// (and converted or quantized) only when the program is written.
import { ExecuTorchError } from '../../runtime/errors';
import { Graph, TensorValue } from '../graph/graph';
import { packInt4HighFirstAsync, quantizeInt4RowsAsync, quantizeInt8RowsAsync } from '../passes/quantize-weights';
import { sharedQuantization } from '../passes/shared-quantization';
import { bytesSource } from '../pte/program-spec';
import { WeightSource } from './decoder-spec';

/** Weights as graph constants, read from the checkpoint only when the program is written. */
export class WeightConstants {
  constructor(private readonly g: Graph, private readonly weights: WeightSource) {}

  /**
   * A float32 weight, optionally transformed when read (same element count) and given
   * another shape of the same size (a convolution kernel as a linear's matrix).
   */
  get(name: string, transform?: (w: Float32Array) => Float32Array, reshaped?: number[]): TensorValue {
    const shape = reshaped ?? this.has(name).shape(name);
    if (reshaped && this.has(name).shape(name).reduce((a, b) => a * b, 1) !== reshaped.reduce((a, b) => a * b, 1))
      throw new ExecuTorchError('InvalidCheckpoint', `${name} ${JSON.stringify(this.weights.shape(name))} cannot be read as ${JSON.stringify(reshaped)}`);
    const size = shape.reduce((a, b) => a * b, 1) * 4;
    const read = async () => {
      const w = await this.weights.read(name);
      const t = transform ? transform(w) : w;
      return new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
    };
    return this.g.constant(name, 'float32', shape, { size, read }, true);
  }

  private has(name: string): WeightSource {
    if (!this.weights.has(name)) throw new ExecuTorchError('InvalidCheckpoint', `missing tensor ${name}`);
    return this.weights;
  }

  /**
   * A [rows, cols] weight as int8 codes [rows, cols] and float32 scales [rows]. The two
   * constants share one quantization, made when the first is written.
   */
  int8Rows(name: string): { codes: TensorValue; scales: TensorValue } {
    const [rows, cols] = this.weights.shape(name);
    const quantized = sharedQuantization(() => this.weights.read(name).then((w) => quantizeInt8RowsAsync(w, rows, cols)), 2);
    const codes = this.g.constant(`${name}.int8`, 'int8', [rows, cols], {
      size: rows * cols,
      read: async () => new Uint8Array((await quantized()).q.buffer),
    });
    const scales = this.g.constant(`${name}.scales`, 'float32', [rows], {
      size: rows * 4,
      read: async () => new Uint8Array((await quantized()).scales.buffer),
    });
    return { codes, scales };
  }

  /**
   * A [rows, cols] weight as int4 codes, two per byte as embedding_4bit reads them
   * (uint8 [rows, cols / 2]), and one float32 scale per row ([rows, 1], the shape
   * optimum-executorch's qembedding '4w' writes).
   */
  int4Rows(name: string): { codes: TensorValue; scales: TensorValue } {
    const [rows, cols] = this.weights.shape(name);
    if (cols % 2 !== 0) throw new ExecuTorchError('NotSupported', `int4 ${name}: ${cols} columns, not a multiple of 2`);
    const quantized = sharedQuantization(() => this.weights.read(name).then((w) => quantizeInt4RowsAsync(w, rows, cols)), 2);
    const codes = this.g.constant(`${name}.int4`, 'uint8', [rows, cols / 2], {
      size: (rows * cols) / 2,
      read: async () => packInt4HighFirstAsync((await quantized()).q, rows, cols),
    });
    const scales = this.g.constant(`${name}.scales`, 'float32', [rows, 1], {
      size: rows * 4,
      read: async () => new Uint8Array((await quantized()).scales.buffer),
    });
    return { codes, scales };
  }

  table(name: string, data: Float32Array, shape: number[]): TensorValue {
    return this.g.constant(name, 'float32', shape, bytesSource(new Uint8Array(data.buffer)));
  }
}
