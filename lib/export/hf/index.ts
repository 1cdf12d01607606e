// Reading Hugging Face checkpoints for the exporter: safetensors (single or
// sharded; F32/F16/BF16 read lazily as float32, any dtype raw), config.json
// normalized with transformers' defaults, generation_config.json, and canonical
// weight names across the published key layouts.
export { Checkpoint, openCheckpoint, SINGLE_WEIGHTS_NAME } from './checkpoint';
export type { CheckpointOptions, CheckpointTensorInfo } from './checkpoint';
export { normalizeConfig, readModelConfig, ropeForLayer, SUPPORTED_CONFIG_DTYPES, SUPPORTED_MODEL_TYPES } from './config';
export type { ModelConfig, ModelType, MultimodalConfig, TextConfig, TextModelType, VisionConfig, WeightDtype } from './config';
export { normalizeGenerationConfig, readGenerationConfig } from './generation-config';
export type { GenerationConfig } from './generation-config';
export { LAYER_TYPES, SUPPORTED_ROPE_TYPES } from './rope';
export type { LayerType, RopeByLayerType, RopeConfig, RopeScaling } from './rope';
export { MAX_HEADER_BYTES, parseSafetensorsHeader, SafetensorsFile } from './safetensors';
export type { RawTensor, ReadStats, SafetensorsHeader, SafetensorsTensorInfo } from './safetensors';
export { parseShardIndex, readShardIndex, SHARD_INDEX_NAME } from './shard-index';
export type { ShardIndex } from './shard-index';
export { decodeFloats, dtypeSize, FLOAT_DTYPES, isFloatDtype, SAFETENSORS_DTYPES } from './tensor-dtype';
export type { SafetensorsDtype } from './tensor-dtype';
export {
  detectLayout,
  expectedTensors,
  expectedTextTensors,
  expectedVisionTensors,
  layerWeight,
  layoutsFor,
  toCanonicalName,
  toStoredName,
  WEIGHT_LAYOUTS,
} from './weight-names';
export type { ExpectedTensor, WeightLayout, WeightLayoutId } from './weight-names';
