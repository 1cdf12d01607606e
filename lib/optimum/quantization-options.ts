// The qlinear / qembedding options of the export API, as optimum-executorch spells
// them, resolved to the schemes the quantization pass implements.
import { ExecuTorchError } from '../runtime/errors';
import { QLinear } from '../export/passes/quantize';
import { EmbeddingQuant } from '../export/models/token-embedding';

export type QLinearOption = boolean | '8da4w' | '8da8w' | '8w' | '4w';
export type QEmbeddingOption = boolean | '8w' | '4w';

export function linearScheme(q: QLinearOption | undefined): QLinear | null {
  if (!q) return null;
  if (q === true || q === '8da4w') return '8da4w';
  if (q === '8da8w') return '8da8w';
  throw new ExecuTorchError('NotSupported', `qlinear '${q}' is not in the exporter yet (supported: 8da4w, 8da8w)`);
}

export function embeddingScheme(q: QEmbeddingOption | undefined): EmbeddingQuant | null {
  if (!q) return null;
  if (q === true || q === '8w') return '8w';
  throw new ExecuTorchError('NotSupported', `qembedding '${q}' is not in the exporter yet (supported: 8w)`);
}
