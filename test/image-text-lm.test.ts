// Official optimum-executorch image-text-to-text exports of a tiny random Gemma 3
// (tools/interop/llm): the three methods (vision_encoder, token_embedding,
// text_decoder) match the official runtime on the same inputs, and the whole
// pipeline run on our own outputs (image features spliced into the prompt's
// embeddings at the image tokens, prefill, greedy decode) gives the official tokens.
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Program, Tensor } from '../lib';
import {
  RefTensor,
  argmax,
  floatCounterpart,
  floats,
  interopDir,
  interopFixtures,
  maxAbs,
  maxAbsDiff,
  readReference,
  refTensor,
  tolerance,
} from './helpers/interop';

interface DecodeStep {
  inputToken: number;
  cachePosition: number;
  embedding: RefTensor;
  logits: RefTensor;
  argmax: number;
}

interface ImageTextReference {
  prompt: number[];
  run: {
    visionEncoder: { inputs: RefTensor[]; output: RefTensor };
    tokenEmbedding: { inputs: RefTensor[]; output: RefTensor };
    imageTokenPositions: number[];
    prefill: { inputs: RefTensor[]; logits: RefTensor };
    decode: DecodeStep[];
    generated: number[];
  };
}

const fixtures = interopFixtures.filter((f) => f.methods.includes('vision_encoder'));

async function run(program: Program, method: string, inputs: Tensor[]): Promise<Float32Array> {
  const [out] = await program.execute(method, inputs);
  if (!(out instanceof Tensor)) throw new Error(`${method} returned no tensor`);
  return out.data as Float32Array;
}

describe.each(fixtures.map((f) => [f.name, f] as const))('%s', (_name, f) => {
  let program: Program;
  const ref = readReference<ImageTextReference>(f.name);
  const floatRef = (): ImageTextReference['run'] => readReference<ImageTextReference>(floatCounterpart(f.name)).run;

  beforeAll(async () => {
    program = await Program.load(path.join(interopDir, f.pte), { threads: 1 });
  });
  afterAll(() => program?.dispose());

  // Compares one output with the official one; returns the difference for the log.
  function expectClose(what: string, ours: Float32Array, official: Float32Array, officialFloat: () => Float32Array) {
    const diff = maxAbsDiff(ours, official);
    const bound = tolerance(f, official, officialFloat);
    console.log(`${f.name} ${what}: max abs difference ${diff.toExponential(2)} (bound ${bound.toExponential(2)})`);
    expect(diff, what).toBeLessThanOrEqual(bound);
  }

  it('has the three methods and the image metadata', () => {
    expect(program.methodNames).toEqual(expect.arrayContaining(['vision_encoder', 'token_embedding', 'text_decoder']));
    expect(program.methodMeta('vision_encoder').inputs[0]).toMatchObject({ dtype: 'float32', shape: [1, 3, 32, 32] });
  });

  it('vision_encoder and token_embedding match the official runtime', async () => {
    const vision = ref.run.visionEncoder;
    expect(maxAbs(floats(vision.output)), 'the fixture has non-zero image features').toBeGreaterThan(0);
    expectClose('vision_encoder', await run(program, 'vision_encoder', vision.inputs.map(refTensor)), floats(vision.output), () =>
      floats(floatRef().visionEncoder.output),
    );
    const embed = ref.run.tokenEmbedding;
    expectClose('token_embedding', await run(program, 'token_embedding', embed.inputs.map(refTensor)), floats(embed.output), () =>
      floats(floatRef().tokenEmbedding.output),
    );
  });

  it('text_decoder matches the official prefill and decode logits on the official inputs', async () => {
    const prefill = ref.run.prefill;
    const vocab = prefill.logits.shape[2];
    const logits = await run(program, 'text_decoder', prefill.inputs.map(refTensor));
    const official = floats(prefill.logits);
    for (let row = 0; row < prefill.logits.shape[1]; row++)
      expect(argmax(logits, vocab, row), `top-1 at position ${row}`).toBe(argmax(official, vocab, row));
    expectClose('prefill logits', logits, official, () => floats(floatRef().prefill.logits));
    for (const [i, step] of ref.run.decode.entries()) {
      const position = new Tensor(BigInt64Array.of(BigInt(step.cachePosition)), [1]);
      const stepLogits = await run(program, 'text_decoder', [refTensor(step.embedding), position]);
      expect(argmax(stepLogits, vocab), `decode step ${i}`).toBe(step.argmax);
      expectClose(`decode step ${i} logits`, stepLogits, floats(step.logits), () => floats(floatRef().decode[i].logits));
    }
  });

  it('our own pipeline (features spliced at the image tokens, prefill, greedy decode) gives the official tokens', async () => {
    const features = await run(program, 'vision_encoder', ref.run.visionEncoder.inputs.map(refTensor));
    const ids = (tokens: number[]) => new Tensor(BigInt64Array.from(tokens, BigInt), [1, tokens.length]);
    const embeds = await run(program, 'token_embedding', [ids(ref.prompt)]);
    const hidden = ref.run.tokenEmbedding.output.shape[2];
    expect(ref.run.imageTokenPositions.length * hidden).toBe(features.length);
    ref.run.imageTokenPositions.forEach((pos, k) => embeds.set(features.subarray(k * hidden, (k + 1) * hidden), pos * hidden));
    const positions = (start: number, n: number) => new Tensor(BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i)), [n]);
    const n = ref.prompt.length;
    let logits = await run(program, 'text_decoder', [new Tensor(embeds, [1, n, hidden]), positions(0, n)]);
    const vocab = ref.run.prefill.logits.shape[2];
    const tokens = [argmax(logits, vocab, n - 1)];
    while (tokens.length < ref.run.generated.length) {
      const embedding = await run(program, 'token_embedding', [ids([tokens[tokens.length - 1]])]);
      logits = await run(program, 'text_decoder', [new Tensor(embedding, [1, 1, hidden]), positions(n + tokens.length - 1, 1)]);
      tokens.push(argmax(logits, vocab));
    }
    expect(tokens).toEqual(ref.run.generated);
  });
});
