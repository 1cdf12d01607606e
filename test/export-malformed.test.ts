// Broken Hugging Face checkpoints through the export API: each fails with an
// ExecuTorchError whose code is stable and whose message names the file and the
// tensor (or model_type) at fault, and leaves nothing in the output folder, even when
// the damage is only found while the .pte is being written.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExecuTorchError, exportToExecuTorchWithXnnpack, loadCausalLMModel } from '../lib';
import type { ExecuTorchErrorCode, ExportProgress } from '../lib';
import { encodeRaw, parseSafetensorsFile, writeSafetensors } from './helpers/safetensors-writer';
import { repoRoot } from './helpers/paths';

const llama = path.join(repoRoot, 'test', 'fixtures', 'checkpoints', 'llama');

let work: string;
let ckpt: string;
let outDir: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-malformed-'));
  ckpt = path.join(work, 'llama');
  outDir = path.join(work, 'out');
  fs.cpSync(llama, ckpt, { recursive: true });
  fs.mkdirSync(outDir);
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

const weights = (): string => path.join(ckpt, 'model.safetensors');

/** Rewrites the checkpoint's safetensors header; the tensor data stays as it is. */
function editHeader(edit: (header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>) => void): void {
  const file = fs.readFileSync(weights());
  const n = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + n).toString('utf8'));
  edit(header);
  fs.writeFileSync(weights(), encodeRaw(header, file.subarray(8 + n)));
}

function headerBytes(): number {
  return 8 + Number(fs.readFileSync(weights()).readBigUInt64LE(0));
}

function editConfig(edit: (config: Record<string, unknown>) => void): void {
  const file = path.join(ckpt, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(config);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
}

/** The API as a user calls it, with the quantization that is done while writing. */
async function exportCheckpoint(onProgress?: (e: ExportProgress) => void): Promise<void> {
  const module = await loadCausalLMModel(ckpt, { qlinear: '8da4w', qembedding: '8w', maxSeqLen: 32 });
  try {
    await exportToExecuTorchWithXnnpack(module, { outputPath: path.join(outDir, 'model.pte'), onProgress });
  } finally {
    await module.close();
  }
}

async function expectExportError(code: ExecuTorchErrorCode, mentions: string[], onProgress?: (e: ExportProgress) => void): Promise<ExecuTorchError> {
  const err = await exportCheckpoint(onProgress).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'the export should have failed').toBeInstanceOf(ExecuTorchError);
  const e = err as ExecuTorchError;
  expect(e.code).toBe(code);
  for (const m of mentions) expect(e.message).toContain(m);
  expect(fs.readdirSync(outDir), 'files left in the output folder').toEqual([]);
  return e;
}

describe('export of a malformed checkpoint', () => {
  it('the intact copy exports (so the failures below come from the damage)', async () => {
    await exportCheckpoint();
    expect(fs.readdirSync(outDir)).toEqual(['model.pte']);
  });

  it('missing tensor: InvalidCheckpoint naming the file and the tensor', async () => {
    const tensors = parseSafetensorsFile(weights()).filter((t) => t.name !== 'model.layers.1.mlp.down_proj.weight');
    writeSafetensors(weights(), tensors);
    await expectExportError('InvalidCheckpoint', [weights(), 'model.layers.1.mlp.down_proj.weight']);
  });

  it('tensor with the wrong shape (same byte count): InvalidCheckpoint naming the tensor and both shapes', async () => {
    editHeader((h) => {
      h['model.layers.0.self_attn.q_proj.weight'].shape = [128, 32];
    });
    await expectExportError('InvalidCheckpoint', [weights(), 'model.layers.0.self_attn.q_proj.weight', '[128, 32]', '[64, 64]']);
  });

  it('safetensors cut in the middle of the tensor data: InvalidCheckpoint naming the file and a tensor past the end', async () => {
    const size = fs.statSync(weights()).size;
    const data = headerBytes();
    fs.truncateSync(weights(), data + Math.floor((size - data) / 2));
    const e = await expectExportError('InvalidCheckpoint', [weights()]);
    expect(e.message).toMatch(/tensor '[\w.]+'/);
    expect(e.message).toMatch(/truncated/);
  });

  it('safetensors cut in the middle of its header: InvalidCheckpoint naming the file', async () => {
    fs.truncateSync(weights(), Math.floor(headerBytes() / 2));
    const e = await expectExportError('InvalidCheckpoint', [weights()]);
    expect(e.message).toMatch(/header/);
  });

  it('unknown model_type: NotSupported naming config.json and the model_type', async () => {
    editConfig((c) => {
      c.model_type = 'frobnicator';
    });
    await expectExportError('NotSupported', [path.join(ckpt, 'config.json'), "'frobnicator'"]);
  });

  it('missing config.json: NotFound naming it', async () => {
    fs.rmSync(path.join(ckpt, 'config.json'));
    await expectExportError('NotFound', [path.join(ckpt, 'config.json')]);
  });

  // The weights are read again, and quantized, as the file is written: damage done
  // after the checkpoint was opened and lowered surfaces with the .pte half written,
  // and the temporary file must go.
  it('weights cut while the .pte is being written: InvalidCheckpoint, and the partial file is removed', async () => {
    let partialSeen = false;
    const phases: string[] = [];
    await expectExportError('InvalidCheckpoint', [weights(), 'truncated or changed after open'], (e) => {
      phases.push(e.phase);
      if (e.phase === 'write' && e.written > 0 && !partialSeen) {
        // The flatbuffer is out; the constants and weights are still to be read.
        partialSeen = fs.readdirSync(outDir).some((f) => f.endsWith('.partial'));
        fs.truncateSync(weights(), headerBytes());
      }
    });
    expect(partialSeen, 'a temporary file existed while writing').toBe(true);
    expect(phases.at(-1)).toBe('write');
    expect(phases).not.toContain('done');
  });

  it('weights cut after the checkpoint was opened, before lowering: InvalidCheckpoint naming a tensor', async () => {
    const module = await loadCausalLMModel(ckpt, { qlinear: '8da4w', maxSeqLen: 32 });
    try {
      fs.truncateSync(weights(), headerBytes() + 64);
      const err = await exportToExecuTorchWithXnnpack(module, { outputPath: path.join(outDir, 'model.pte') }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ExecuTorchError);
      expect((err as ExecuTorchError).code).toBe('InvalidCheckpoint');
      expect((err as ExecuTorchError).message).toMatch(/model\.safetensors: .*tensor '[\w.]+'/);
    } finally {
      await module.close();
    }
    expect(fs.readdirSync(outDir)).toEqual([]);
  });
});

describe('export to a bad output path', () => {
  it('a folder that does not exist: NotFound before any work', async () => {
    const module = await loadCausalLMModel(ckpt, { maxSeqLen: 32 });
    const events: string[] = [];
    try {
      const err = await exportToExecuTorchWithXnnpack(module, { outputPath: path.join(work, 'nowhere', 'model.pte'), onProgress: (e) => events.push(e.phase) }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ExecuTorchError);
      expect((err as ExecuTorchError).code).toBe('NotFound');
      expect((err as ExecuTorchError).message).toContain(path.join(work, 'nowhere'));
    } finally {
      await module.close();
    }
    expect(events).toEqual([]);
  });

  it('a directory: InvalidArgument, the directory untouched', async () => {
    const module = await loadCausalLMModel(ckpt, { maxSeqLen: 32 });
    try {
      const err = await exportToExecuTorchWithXnnpack(module, { outputPath: outDir }).then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as ExecuTorchError).code).toBe('InvalidArgument');
      expect((err as ExecuTorchError).message).toContain(outDir);
    } finally {
      await module.close();
    }
    expect(fs.readdirSync(outDir)).toEqual([]);
  });
});
