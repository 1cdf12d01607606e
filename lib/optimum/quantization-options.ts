// The qlinear / qembedding options of the export API, as optimum-executorch spells
// them, resolved to the schemes the quantization pass implements.
import { ExecuTorchError } from '../runtime/errors';
import { QLinear } from '../export/passes/quantize';
import { EmbeddingQuant } from '../export/models/token-embedding';

export type QLinearOption = boolean | '8da4w' | '8da8w' | '8w' | '4w';
export type QEmbeddingOption = boolean | '8w' | '4w';

const LINEAR_SCHEMES: readonly QLinear[] = ['8da4w', '8da8w', '8w', '4w'];
const EMBEDDING_SCHEMES: readonly EmbeddingQuant[] = ['8w', '4w'];

export function linearScheme(q: QLinearOption | undefined): QLinear | null {
  if (!q) return null;
  if (q === true) return '8da4w';
  if ((LINEAR_SCHEMES as readonly unknown[]).includes(q)) return q;
  throw new ExecuTorchError('NotSupported', `qlinear '${String(q)}' is not a scheme the exporter writes (supported: ${LINEAR_SCHEMES.join(', ')})`);
}

export function embeddingScheme(q: QEmbeddingOption | undefined): EmbeddingQuant | null {
  if (!q) return null;
  if (q === true) return '8w';
  if ((EMBEDDING_SCHEMES as readonly unknown[]).includes(q)) return q;
  throw new ExecuTorchError('NotSupported', `qembedding '${String(q)}' is not a scheme the exporter writes (supported: ${EMBEDDING_SCHEMES.join(', ')})`);
}
