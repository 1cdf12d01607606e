import { Program } from '../runtime/program';

/**
 * The constant methods optimum-executorch writes into an LLM program
 * (`get_max_seq_len`, `get_eos_ids` / `get_eos_id`, ...), read once at load.
 * Absent methods leave their field undefined.
 */
export interface LLMMetadata {
  maxSeqLen?: number;
  maxContextLen?: number;
  vocabSize?: number;
  bosId?: number;
  eosIds: number[];
  useKvCache?: boolean;
  useSdpaWithKvCache?: boolean;
  enableDynamicShape?: boolean;
  slidingWindow?: number;
  nLayers?: number;
}

async function constant(program: Program, name: string): Promise<unknown[] | undefined> {
  if (!program.methodNames.includes(name)) return undefined;
  if (program.methodMeta(name).inputs.length > 0) return undefined;
  return program.execute(name, []);
}

const num = (v: unknown[] | undefined): number | undefined => (v && v.length > 0 ? Number(v[0]) : undefined);
const bool = (v: unknown[] | undefined): boolean | undefined => (v && v.length > 0 ? Boolean(v[0]) : undefined);

export async function readLLMMetadata(program: Program): Promise<LLMMetadata> {
  // optimum writes get_eos_id (possibly several outputs); ExecuTorch's runner reads get_eos_ids.
  const eos = (await constant(program, 'get_eos_ids')) ?? (await constant(program, 'get_eos_id')) ?? [];
  return {
    maxSeqLen: num(await constant(program, 'get_max_seq_len')),
    maxContextLen: num(await constant(program, 'get_max_context_len')),
    vocabSize: num(await constant(program, 'get_vocab_size')),
    bosId: num(await constant(program, 'get_bos_id')),
    eosIds: eos.map(Number),
    useKvCache: bool(await constant(program, 'use_kv_cache')),
    useSdpaWithKvCache: bool(await constant(program, 'use_sdpa_with_kv_cache')),
    enableDynamicShape: bool(await constant(program, 'enable_dynamic_shape')),
    slidingWindow: num(await constant(program, 'sliding_window')),
    nLayers: num(await constant(program, 'get_n_layers')),
  };
}
