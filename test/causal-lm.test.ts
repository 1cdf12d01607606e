// Official optimum-executorch LLM exports (tools/interop/llm: tiny random
// Llama / Qwen3 / Gemma 3 checkpoints, XNNPACK recipe, custom SDPA + custom
// KV cache) run through ExecuTorchModelForCausalLM: the prefill logits match
// the official runtime's and the greedy tokens are identical.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { ExecuTorchError, ExecuTorchModelForCausalLM, Tensor } from '../lib';
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
      let logits: Tensor;
      try {
        logits = await model.forward(ref.prompt, 0);
      } catch (err) {
        // Dynamically quantized linears (qd8 activations x 4/8-bit weights) are not in the
        // XNNPACK backend yet: they must be refused by name, never mis-computed.
        expect(f.qlinear, String(err)).toMatch(/8da/);
        expect((err as ExecuTorchError).code).toBe('NotSupported');
        expect((err as Error).message).toMatch(/XnnpackBackend: node \d+ Convert to qdint8/);
        return;
      }
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
      if (!f.qlinear) expect(maxAbs).toBeLessThanOrEqual(FLOAT_RTOL * scale);
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
