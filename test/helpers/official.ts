// Reference outputs of the official ExecuTorch runtime (tools/interop), and
// the .pte/.ptd pairs of the wild fixtures.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor } from '../../lib';
import { DType, isDType, typedArrayCtor } from '../../lib/runtime/dtype';
import { repoRoot } from './paths';

const DATA_FILES: Record<string, string> = {
  'barakugav__executorch-rs/examples__data_map__model__model@48b2595c3c.pte':
    'barakugav__executorch-rs/examples__data_map__model___default_external_constant@48b2595c3c.ptd',
  'pytorch__executorch/extension__android__executorch_android__src__androidTest__resources__xor@9c80c531da.pte':
    'pytorch__executorch/extension__android__executorch_android__src__androidTest__resources__xor@9c80c531da.ptd',
  'pytorch__executorch/extension__module__test__resources__linear@3e188fe119.pte':
    'pytorch__executorch/extension__module__test__resources__linear@3e188fe119.ptd',
};

export function pairedDataFile(pte: string): string | undefined {
  return DATA_FILES[pte];
}

export const officialDir = path.join(repoRoot, 'test', 'fixtures', 'official');
