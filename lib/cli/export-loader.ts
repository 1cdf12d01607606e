// Which exporter a checkpoint folder goes through, decided from its config.json.
// The one place to wire a new kind of model into `executorch-node export`.
import * as fs from 'fs';
import * as path from 'path';
import { CausalLMExportableModule, loadCausalLMModel } from '../optimum/causal-lm-export';
import { ExportableModule } from '../optimum/export-xnnpack';
import { ImageTextToTextExportableModule, loadImageTextToTextModel } from '../optimum/image-text-export';
import { QEmbeddingOption, QLinearOption } from '../optimum/quantization-options';

export type CheckpointKind = 'causal-lm' | 'image-text-to-text';

/** The options the CLI passes to every loader. */
export interface LoaderOptions {
  maxSeqLen?: number;
  qlinear?: QLinearOption;
  qembedding?: QEmbeddingOption;
}

export interface ExportLoader<M extends ExportableModule<unknown> = ExportableModule<unknown>> {
  load(dir: string, options: LoaderOptions): Promise<M>;
}

const causalLM: ExportLoader<CausalLMExportableModule> = {
  load: loadCausalLMModel,
};

// The image-text loader calls the KV-cache length maxLength (the seed's name).
const imageTextToText: ExportLoader<ImageTextToTextExportableModule> = {
  load: (dir, o) => loadImageTextToTextModel(dir, { maxLength: o.maxSeqLen, qlinear: o.qlinear, qembedding: o.qembedding }),
};

const LOADERS: Record<CheckpointKind, ExportLoader> = {
  'causal-lm': causalLM,
  'image-text-to-text': imageTextToText,
};

/**
 * The kind of model in `dir`: Gemma 3 with a vision tower is image-text-to-text,
 * anything else causal LM. An unreadable or malformed config.json is "causal LM":
 * its loader then reports what is wrong with it, with the error code the API uses.
 */
export async function checkpointKind(dir: string): Promise<CheckpointKind> {
  let config: unknown;
  try {
    config = JSON.parse(await fs.promises.readFile(path.join(dir, 'config.json'), 'utf8'));
  } catch {
    return 'causal-lm';
  }
  const c = config as { model_type?: unknown; vision_config?: unknown } | null;
  if (c && c.model_type === 'gemma3' && typeof c.vision_config === 'object' && c.vision_config !== null) return 'image-text-to-text';
  return 'causal-lm';
}

export function exportLoader(kind: CheckpointKind): ExportLoader {
  return LOADERS[kind];
}
