// Official optimum-executorch LLM exports (tools/interop/llm: tiny random
// Llama / Qwen3 / Gemma 3 checkpoints, XNNPACK recipe, custom SDPA + custom
// KV cache) run through ExecuTorchModelForCausalLM: the prefill logits match
// the official runtime's and the greedy tokens are identical.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { ExecuTorchModelForCausalLM } from '../lib';
import { repoRoot } from './helpers/paths';

const dir = path.join(repoRoot, 'test', 'fixtures', 'interop');
const index = fs.existsSync(path.join(dir, 'INDEX.json'))
  ? (JSON.parse(fs.readFileSync(path.join(dir, 'INDEX.json'), 'utf8')) as {
      fixtures: { name: string; pte: string; json: string; task: string; qlinear: string | null; qembedding: string | null; methods: string[] }[];
    })
  : { fixtures: [] };

interface RefTensor {
  dtype: string;
  shape: number[];
  data: string;
}
function floats(t: RefTensor): Float32Array {
  const b = Buffer.from(t.data, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

// Float programs: 1e-4 relative to the logits' largest magnitude (XNNPACK and our
// attention sum in other orders than the official kernels).
const FLOAT_RTOL = 1e-4;

// Quantized programs: see officialQuantizationError.
const QUANT_FRACTION = 0.1;

function prefillLogits(name: string): Float32Array {
  const ref = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')) as {
    run: { prefill: { logits: RefTensor } };
  };
  return floats(ref.run.prefill.logits);
}

// Max abs difference between the official runtime's prefill logits for a quantized
// export and for the float export of the same checkpoint and prompt.
function officialQuantizationError(name: string, quantized: Float32Array): number {
  const float = prefillLogits(`${name.split('.')[0]}.ql-none.qe-none`);
  expect(float.length).toBe(quantized.length);
  let m = 0;
  for (let i = 0; i < float.length; i++) m = Math.max(m, Math.abs(float[i] - quantized[i]));
  return m;
}

const causal = index.fixtures.filter((f) => f.methods.includes('forward'));

describe.each(causal.map((f) => [f.name, f] as const))('%s', (_name, f) => {
  it('matches the official prefill logits and greedy tokens', async () => {
    const ref = JSON.parse(fs.readFileSync(path.join(dir, f.json), 'utf8')) as {
      prompt: number[];
      run: { prefill: { logits: RefTensor }; generated: number[] };
      constantMethods: Record<string, unknown>;
    };
    const model = await ExecuTorchModelForCausalLM.fromPretrained(path.join(dir, f.pte), { threads: 1 });
    try {
      expect(model.metadata.maxSeqLen).toBe(64);
      const logits = await model.forward(ref.prompt, 0);
      const expected = floats(ref.run.prefill.logits);
      expect(logits.shape).toEqual(ref.run.prefill.logits.shape);
      const ours = logits.data as Float32Array;
      const vocab = logits.shape[2];
      let scale = 0;
      let maxAbs = 0;
      for (let i = 0; i < expected.length; i++) {
        scale = Math.max(scale, Math.abs(expected[i]));
        maxAbs = Math.max(maxAbs, Math.abs(ours[i] - expected[i]));
      }
      for (let row = 0; row < logits.shape[1]; row++) {
        let a = 0;
        let b = 0;
        for (let v = 1; v < vocab; v++) {
          if (ours[row * vocab + v] > ours[row * vocab + a]) a = v;
          if (expected[row * vocab + v] > expected[row * vocab + b]) b = v;
        }
        expect(a, `top-1 at position ${row}`).toBe(b);
      }
      console.log(`${f.name}: prefill max abs logit difference ${maxAbs.toExponential(2)} (scale ${scale.toFixed(3)})`);
      if (!f.qlinear) {
        expect(maxAbs).toBeLessThanOrEqual(FLOAT_RTOL * scale);
      } else {
        // Quantized linears: per-row int8 activations make the result discontinuous in
        // its input, so the last-bit differences that float programs show (attention
        // sums in another order) can flip one activation's rounding at some position,
        // and later positions inherit it. Bound: a tenth of the official quantized
        // export's own distance from the official float export of the same checkpoint.
        const quantError = officialQuantizationError(f.name, expected);
        console.log(`${f.name}: official quantized vs float max abs ${quantError.toExponential(2)}`);
        expect(maxAbs).toBeLessThanOrEqual(QUANT_FRACTION * quantError);
      }
      const generated = await model.generate(ref.prompt, { maxNewTokens: 9 });
      expect(generated).toEqual(ref.run.generated.slice(0, generated.length));
      expect(generated.length).toBe(Math.min(9, ref.run.generated.length));
    } finally {
      model.dispose();
    }
  });
});

describe('ExecuTorchModelForCausalLM', () => {
  const float = causal.find((f) => f.name === 'llama.ql-none.qe-none');
  it.runIf(float)('reads optimum metadata, streams tokens and can be aborted', async () => {
    const model = await ExecuTorchModelForCausalLM.fromPretrained(path.join(dir, float!.pte), { threads: 1 });
    expect(model.metadata).toMatchObject({ maxSeqLen: 64, vocabSize: 512, bosId: 1, eosIds: [2], useKvCache: true });
    const seen: number[] = [];
    const tokens = await model.generate([1, 5, 9], { maxNewTokens: 4, onToken: (t) => seen.push(t) });
    expect(seen).toEqual(tokens);
    expect(tokens.length).toBe(4);
    const controller = new AbortController();
    const aborted = model.generate([1, 5, 9], {
      maxNewTokens: 50,
      signal: controller.signal,
      onToken: () => controller.abort(),
    });
    await expect(aborted).rejects.toMatchObject({ code: 'Aborted' });
    await expect(model.generate(Array(64).fill(3))).rejects.toMatchObject({ code: 'InvalidArgument' });
    model.dispose();
  });
});
