// The exporter end to end on tiny random checkpoints (test/fixtures/checkpoints,
// made by tools/interop/checkpoints with transformers): export to .pte, run in our
// runtime, and compare with transformers' own logits and greedy tokens.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExecuTorchModelForCausalLM, exportToExecuTorchWithXnnpack, loadCausalLMModel } from '../lib';
import { argmax, floatCounterpart, floats, maxAbs, maxAbsDiff, QUANT_FRACTION, readReference, RefTensor } from './helpers/interop';
import { repoRoot } from './helpers/paths';

interface CheckpointReference {
  prompt: number[];
  generated: number[];
  sequence: number[];
  logits: RefTensor;
}

const checkpoints = path.join(repoRoot, 'test', 'fixtures', 'checkpoints');
const names = ['llama', 'smollm', 'qwen2', 'qwen3', 'gemma3'];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-export-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

// Float exports: 1e-4 relative to the largest logit (float32 in a different order of
// operations than PyTorch's eager kernels; observed differences are ~1e-6).
const FLOAT_RTOL = 1e-4;

// Logits of every position, through as many calls as the program's bound on tokens
// per call asks (Gemma 3's sliding-window rings take at most a window per call).
async function forwardInChunks(model: ExecuTorchModelForCausalLM, tokens: number[]): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (let start = 0; start < tokens.length; start += model.maxPrefillTokens)
    parts.push((await model.forward(tokens.slice(start, start + model.maxPrefillTokens), start)).data as Float32Array);
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
  return all;
}

/** A copy of a checkpoint (weights linked) whose config asks for exact (erf) GELU. */
function withExactGelu(dir: string): string {
  const copy = path.join(work, `${path.basename(dir)}-erf-gelu`);
  fs.mkdirSync(copy, { recursive: true });
  for (const file of fs.readdirSync(dir)) if (file !== 'config.json') fs.symlinkSync(path.join(dir, file), path.join(copy, file));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  config.hidden_activation = 'gelu';
  fs.writeFileSync(path.join(copy, 'config.json'), JSON.stringify(config));
  return copy;
}

describe.each(names)('%s', (name) => {
  it('exports (float) and matches transformers: logits at every position, 16 greedy tokens', async () => {
    const dir = path.join(checkpoints, name);
    const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as CheckpointReference;
    const module = await loadCausalLMModel(dir, { maxSeqLen: 64 });
    const outputPath = path.join(work, `${name}.pte`);
    await exportToExecuTorchWithXnnpack(module, { outputPath }).finally(() => module.close());
    const model = await ExecuTorchModelForCausalLM.fromPretrained(outputPath, { threads: 1 });
    try {
      const ours = await forwardInChunks(model, ref.sequence);
      const expected = floats(ref.logits);
      const vocab = ref.logits.shape[2];
      expect(ours.length).toBe(ref.sequence.length * vocab);
      for (let row = 0; row < ref.sequence.length; row++)
        expect(argmax(ours, vocab, row), `top-1 at position ${row}`).toBe(argmax(expected, vocab, row));
      const diff = maxAbsDiff(ours, expected);
      console.log(`${name}: max abs logit difference ${diff.toExponential(2)} (scale ${maxAbs(expected).toFixed(3)})`);
      expect(diff).toBeLessThanOrEqual(FLOAT_RTOL * maxAbs(expected));
      expect(await model.generate(ref.prompt, { maxNewTokens: 16 })).toEqual(ref.generated);
    } finally {
      model.dispose();
    }
  });
});

// Quantized exports against the official toolchain's: the interop fixtures were
// exported by optimum-executorch from these same checkpoints (same seed and config),
// so our 8da4w + 8w program should give the official program's outputs. Bound as in
// causal-lm.test.ts: a tenth of the official quantized export's distance from float.
// Gemma 3 is exported from a copy configured with exact GELU: the official lowering runs
// its tanh GELU as XNNPACK's exact one (see export-image-text.test.ts), ours does not.
describe.each([
  ['llama', 'llama.ql-8da4w.qe-8w'],
  ['qwen3', 'qwen3.ql-8da4w.qe-8w'],
  ['gemma3', 'gemma3.ql-8da4w.qe-8w'],
])('%s 8da4w + qembedding 8w', (name, official) => {
  it('matches the official export of the same checkpoint (top-1 everywhere, 9 greedy tokens)', async () => {
    const ref = readReference<{ prompt: number[]; run: { prefill: { logits: RefTensor }; generated: number[] } }>(official);
    const dir = name === 'gemma3' ? withExactGelu(path.join(checkpoints, name)) : path.join(checkpoints, name);
    const module = await loadCausalLMModel(dir, { maxSeqLen: 64, qlinear: '8da4w', qembedding: '8w' });
    const outputPath = path.join(work, `${name}.8da4w.pte`);
    await exportToExecuTorchWithXnnpack(module, { outputPath }).finally(() => module.close());
    const model = await ExecuTorchModelForCausalLM.fromPretrained(outputPath, { threads: 1 });
    try {
      const ours = await forwardInChunks(model, ref.prompt);
      const expected = floats(ref.run.prefill.logits);
      const vocab = ref.run.prefill.logits.shape[2];
      for (let row = 0; row < ref.prompt.length; row++)
        expect(argmax(ours, vocab, row), `top-1 at position ${row}`).toBe(argmax(expected, vocab, row));
      const floatRef = floats(readReference<{ run: { prefill: { logits: RefTensor } } }>(floatCounterpart(official)).run.prefill.logits);
      const bound = QUANT_FRACTION * maxAbsDiff(floatRef, expected);
      const diff = maxAbsDiff(ours, expected);
      console.log(`${name} 8da4w+8w: max abs difference from the official export ${diff.toExponential(2)} (bound ${bound.toExponential(2)})`);
      expect(diff).toBeLessThanOrEqual(bound);
      expect(await model.generate(ref.prompt, { maxNewTokens: 9 })).toEqual(ref.run.generated.slice(0, 9));
    } finally {
      model.dispose();
    }
  });
});
