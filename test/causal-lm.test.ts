// Official optimum-executorch LLM exports (tools/interop/llm: tiny random
// Llama / Qwen3 / Gemma 3 checkpoints, XNNPACK recipe, custom SDPA + custom
// KV cache) run through ExecuTorchModelForCausalLM: the prefill logits match
// the official runtime's and the greedy tokens are identical.
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { ExecuTorchModelForCausalLM } from '../lib';
import {
  RefTensor,
  argmax,
  floatCounterpart,
  floats,
  interopDir as dir,
  interopFixtures,
  maxAbsDiff,
  readReference,
  tolerance,
} from './helpers/interop';

interface CausalReference {
  prompt: number[];
  run: { prefill: { logits: RefTensor }; generated: number[] };
}

const causal = interopFixtures.filter((f) => f.methods.includes('forward'));

describe.each(causal.map((f) => [f.name, f] as const))('%s', (_name, f) => {
  it('matches the official prefill logits and greedy tokens', async () => {
    const ref = readReference<CausalReference>(f.name);
    const model = await ExecuTorchModelForCausalLM.fromPretrained(path.join(dir, f.pte), { threads: 1 });
    try {
      expect(model.metadata.maxSeqLen).toBe(64);
      const logits = await model.forward(ref.prompt, 0);
      const expected = floats(ref.run.prefill.logits);
      expect(logits.shape).toEqual(ref.run.prefill.logits.shape);
      const ours = logits.data as Float32Array;
      const vocab = logits.shape[2];
      for (let row = 0; row < logits.shape[1]; row++)
        expect(argmax(ours, vocab, row), `top-1 at position ${row}`).toBe(argmax(expected, vocab, row));
      const diff = maxAbsDiff(ours, expected);
      const bound = tolerance(f, expected, () =>
        floats(readReference<CausalReference>(floatCounterpart(f.name)).run.prefill.logits),
      );
      console.log(`${f.name}: prefill max abs logit difference ${diff.toExponential(2)} (bound ${bound.toExponential(2)})`);
      expect(diff).toBeLessThanOrEqual(bound);
      const generated = await model.generate(ref.prompt, { maxNewTokens: 9 });
      expect(generated).toEqual(ref.run.generated.slice(0, generated.length));
      expect(generated.length).toBe(Math.min(9, ref.run.generated.length));
    } finally {
      model.dispose();
    }
  });
});

describe('threads', () => {
  const quantized = causal.find((f) => f.name === 'llama.ql-8da4w.qe-8w');
  it.runIf(quantized)('give the same logits with 1 and 3 threads (work is split by rows and heads, never by sums)', async () => {
    const prompt = readReference<CausalReference>(quantized!.name).prompt;
    const logits = async (threads: number) => {
      const model = await ExecuTorchModelForCausalLM.fromPretrained(path.join(dir, quantized!.pte), { threads });
      try {
        return Array.from((await model.forward(prompt, 0)).data as Float32Array);
      } finally {
        model.dispose();
      }
    };
    expect(await logits(3)).toEqual(await logits(1));
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
