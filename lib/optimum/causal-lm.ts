import * as fs from 'fs';
import * as path from 'path';
import { argmaxRow } from '../generation/argmax';
import { ExecuTorchError } from '../runtime/errors';
import { Program, ProgramLoadOptions } from '../runtime/program';
import { Tensor } from '../runtime/tensor';
import { LLMMetadata, readLLMMetadata } from './metadata';

export interface GenerateOptions {
  /** Most tokens to produce (the first one included); default: until max_seq_len. */
  maxNewTokens?: number;
  /** Aborts between steps; the promise rejects with code 'Aborted'. */
  signal?: AbortSignal;
  /** Called with each new token as soon as it is chosen. */
  onToken?: (token: number) => void;
}

/**
 * A decoder-only LLM exported by optimum-executorch (method
 * `forward(input_ids int64[1,S], cache_position int64[S]) -> logits [1,S,V]`,
 * KV cache inside the program). Greedy generation for now; the tokenizer,
 * chat template and sampling build on this loop.
 */
export class ExecuTorchModelForCausalLM {
  readonly program: Program;
  readonly metadata: LLMMetadata;
  /** Longest prompt one forward call accepts (the bound of the dynamic sequence dim). */
  readonly maxPrefillTokens: number;

  private constructor(program: Program, metadata: LLMMetadata) {
    this.program = program;
    this.metadata = metadata;
    const meta = program.methodMeta('forward');
    const ids = meta.inputs[0];
    if (meta.inputs.length !== 2 || ids?.kind !== 'tensor' || ids.dtype !== 'int64' || ids.shape?.length !== 2)
      throw new ExecuTorchError(
        'InvalidProgram',
        `${program.source}: 'forward' is not an optimum causal-LM method (expected input_ids int64[1,S] and cache_position)`,
      );
    this.maxPrefillTokens = ids.shape[1];
  }

  /** Loads `model.pte` from a directory, or the given .pte file. */
  static async fromPretrained(modelPath: string, options: ProgramLoadOptions = {}): Promise<ExecuTorchModelForCausalLM> {
    const file = fs.existsSync(modelPath) && fs.statSync(modelPath).isDirectory() ? path.join(modelPath, 'model.pte') : modelPath;
    const program = await Program.load(file, options);
    try {
      if (!program.methodNames.includes('forward'))
        throw new ExecuTorchError('InvalidProgram', `${file}: no 'forward' method (methods: ${program.methodNames.join(', ')})`);
      return new ExecuTorchModelForCausalLM(program, await readLLMMetadata(program));
    } catch (err) {
      program.dispose();
      throw err;
    }
  }

  /** One forward call: tokens at positions startPos.. ; returns logits [1, S, V]. */
  async forward(tokens: readonly number[], startPos: number): Promise<Tensor> {
    const n = tokens.length;
    const inputIds = new Tensor(BigInt64Array.from(tokens, (t) => BigInt(t)), [1, n]);
    const positions = new Tensor(BigInt64Array.from({ length: n }, (_, i) => BigInt(startPos + i)), [n]);
    const [logits] = await this.program.execute('forward', [inputIds, positions]);
    if (!(logits instanceof Tensor)) throw new ExecuTorchError('InvalidProgram', `'forward' returned no logits tensor`);
    return logits;
  }

  /**
   * Greedy generation: prefill the prompt (in chunks of at most maxPrefillTokens),
   * then one token per call until an EOS id, maxNewTokens or max_seq_len.
   * Returns the generated tokens (not the prompt).
   */
  async generate(prompt: readonly number[], options: GenerateOptions = {}): Promise<number[]> {
    if (prompt.length === 0) throw new ExecuTorchError('InvalidArgument', 'the prompt is empty');
    const maxSeqLen = this.metadata.maxSeqLen ?? Number.MAX_SAFE_INTEGER;
    if (prompt.length >= maxSeqLen)
      throw new ExecuTorchError('InvalidArgument', `the prompt has ${prompt.length} tokens; max_seq_len is ${maxSeqLen}`);
    const budget = Math.min(options.maxNewTokens ?? Number.MAX_SAFE_INTEGER, maxSeqLen - prompt.length);
    const checkAbort = (): void => {
      if (options.signal?.aborted) throw new ExecuTorchError('Aborted', 'generation was aborted');
    };
    let logits: Tensor | undefined;
    for (let start = 0; start < prompt.length; start += this.maxPrefillTokens) {
      checkAbort();
      logits = await this.forward(prompt.slice(start, start + this.maxPrefillTokens), start);
    }
    const out: number[] = [];
    let token = argmaxRow(logits!, logits!.numel / logits!.shape[logits!.shape.length - 1] - 1);
    for (;;) {
      out.push(token);
      options.onToken?.(token);
      if (this.metadata.eosIds.includes(token) || out.length >= budget) return out;
      checkAbort();
      logits = await this.forward([token], prompt.length + out.length - 1);
      token = argmaxRow(logits, 0);
    }
  }

  dispose(): void {
    this.program.dispose();
  }
}
