// An image-text architecture the exporter supports: which config model_types it covers
// and how its config maps onto the vision encoder builder. The text decoder comes from
// the text registry (text_config's model_type). One file per architecture
// (gemma3-vision.ts, ...) plus a line in image-text-registry.ts.
import { ModelConfig } from '../hf';
import { Graph } from '../graph/graph';
import { WeightSource } from './decoder-spec';

export interface ImageEncoder {
  /** The `vision_encoder` method graph. */
  build(weights: WeightSource): Graph;
  /** Image tokens per image (rows of the encoder's output). */
  tokensPerImage: number;
}

export interface ImageTextArchitecture {
  /** config.json model_type values. */
  modelTypes: readonly string[];
  imageEncoder(config: ModelConfig): ImageEncoder;
}
