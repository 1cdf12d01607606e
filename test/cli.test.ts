// `executorch-node inspect` on every program in the wild fixtures; `executorch-node
// export` against the API it wraps. Both run the built CLI (dist/, `npx tsc -p .`).
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportToExecuTorchWithXnnpack, loadCausalLMModel, loadImageTextToTextModel, Program, Tensor } from '../lib';
import type { CausalLMExportOptions, ExportProgress } from '../lib';
import { checkpointKind } from '../lib/cli/export-loader';
import { progressView } from '../lib/cli/export-progress';
import { rng } from './helpers/inputs';
import { pteWildDir, repoRoot, sharedDir, wildFiles } from './helpers/paths';
import { f32Tensor, writeSafetensors } from './helpers/safetensors-writer';
import { pairedDataFile } from './helpers/official';

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

function inspect(file: string, json: boolean): string {
  const args = [cli, 'inspect', path.join(pteWildDir(), file)];
  const data = pairedDataFile(file);
  if (data && !data.includes('linear@')) args.push('--data', path.join(pteWildDir(), data));
  if (json) args.push('--json');
  return execFileSync(process.execPath, args, { maxBuffer: 64 << 20 }).toString();
}

describe('executorch-node inspect', () => {
  it.each(wildFiles(/\.pte$/))('%s', (file) => {
    const text = inspect(file, false);
    expect(text).toMatch(/methods: \d+/);
    const report = JSON.parse(inspect(file, true));
    expect(report.methods.length).toBeGreaterThan(0);
    for (const m of report.methods) {
      expect(text).toContain(`  ${m.name}: `);
      for (const d of m.delegates) {
        expect(text).toContain(d.id);
        if (d.id === 'XnnpackBackend') {
          expect(d.error).toBeUndefined();
          expect(Object.keys(d.graph.nodeCounts).length).toBeGreaterThan(0);
        }
      }
    }
  });

  it('prints XNNPACK node counts and named data', () => {
    const text = inspect('corey-cole__djl-executorch-engine/native__spike__conv@a7e77908b2.pte', false);
    expect(text).toMatch(/XnnpackBackend \(segment \d+, [\d.]+ (B|KiB)\) XNNPACK XN01: Conv2d x1, StaticTranspose x2/);
    expect(text).toMatch(/named data: 2/);
  });

  it('fails with a clear message and exit code 2 on a bad file', () => {
    const r = spawnSync(process.execPath, [cli, 'inspect', path.join(pteWildDir(), 'pytorch__executorch/docs__source__tutorials_source__etdump@2b78ce5fee.etdp')]);
    expect(r.status).toBe(2);
    expect(r.stderr.toString()).toMatch(/error \[InvalidProgram\]: .*ET12/);
  });
});

describe('executorch-node export', () => {
  const checkpoints = path.join(repoRoot, 'test', 'fixtures', 'checkpoints');
  const llama = path.join(checkpoints, 'llama');
  let work: string;
  beforeAll(() => {
    if (!fs.existsSync(path.join(repoRoot, 'dist', 'cli', 'export.js')))
      throw new Error('dist/cli/export.js is missing: build the CLI first (npx tsc -p .)');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-cli-export-'));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  const runExport = (...args: string[]) => spawnSync(process.execPath, [cli, 'export', ...args], { encoding: 'utf8' });

  async function apiExport(outputPath: string, options: CausalLMExportOptions): Promise<void> {
    const module = await loadCausalLMModel(llama, options);
    try {
      await exportToExecuTorchWithXnnpack(module, { outputPath });
    } finally {
      await module.close();
    }
  }

  async function forward(file: string): Promise<Float32Array> {
    const program = await Program.load(file, { threads: 1 });
    try {
      const ids = new Tensor(BigInt64Array.from([1n, 17n, 42n, 300n, 5n]), [1, 5]);
      const positions = new Tensor(BigInt64Array.from([0n, 1n, 2n, 3n, 4n]), [5]);
      const [logits] = await program.execute('forward', [ids, positions]);
      return (logits as Tensor).data as Float32Array;
    } finally {
      program.dispose();
    }
  }

  it('--qlinear 8da4w: the file the API writes with the same options, and its forward runs', async () => {
    const viaCli = path.join(work, 'cli.pte');
    const r = runExport(llama, '-o', viaCli, '--qlinear', '8da4w');
    expect(r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*cli\.pte \(0\.\d\d MB\) in \d+\.\d s$/m);
    // stderr is a pipe here: one plain line per phase, no terminal control codes.
    expect(r.stderr).toMatch(/^build: method graphs \(\d+\.\d s\)$/m);
    expect(r.stderr).toMatch(/^lower: forward, \d+ XNNPACK partitions in all \(\d+\.\d s\)$/m);
    expect(r.stderr).toMatch(/^write: 0\.\d\d MB \(\d+\.\d s\)$/m);
    expect(r.stderr).not.toContain('\x1b');

    const viaApi = path.join(work, 'api.pte');
    await apiExport(viaApi, { qlinear: '8da4w' });
    // The writer is deterministic (no timestamps, content-keyed named data), so the
    // CLI's options reached the API unchanged iff the bytes are the same.
    expect(fs.readFileSync(viaCli).equals(fs.readFileSync(viaApi))).toBe(true);
    const [cliLogits, apiLogits] = [await forward(viaCli), await forward(viaApi)];
    expect(cliLogits.length).toBe(5 * 512);
    expect(cliLogits.every(Number.isFinite)).toBe(true);
    expect(cliLogits).toEqual(apiLogits);
  });

  it('--qlinear and --qembedding without a scheme are the API\'s `true` (8da4w, 8w); the folder may follow them', async () => {
    const viaCli = path.join(work, 'defaults.pte');
    const r = runExport('--qlinear', llama, '-o', viaCli, '--qembedding', '--max-seq-len', '48');
    expect(r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
    const viaApi = path.join(work, 'defaults-api.pte');
    await apiExport(viaApi, { qlinear: true, qembedding: true, maxSeqLen: 48 });
    expect(fs.readFileSync(viaCli).equals(fs.readFileSync(viaApi))).toBe(true);
    const float = path.join(work, 'float.pte');
    await apiExport(float, { maxSeqLen: 48 });
    expect(fs.statSync(viaCli).size).toBeLessThan(fs.statSync(float).size);
    const program = await Program.load(viaCli, { threads: 1 });
    try {
      expect(await program.execute('get_max_seq_len')).toEqual([48]);
    } finally {
      program.dispose();
    }
  });

  it('a malformed checkpoint: exit 2, `error [InvalidCheckpoint]` naming the file, no stack trace, nothing written', () => {
    const broken = path.join(work, 'broken');
    fs.cpSync(llama, broken, { recursive: true });
    const weights = path.join(broken, 'model.safetensors');
    fs.truncateSync(weights, Math.floor(fs.statSync(weights).size / 2));
    const out = path.join(work, 'broken-out');
    fs.mkdirSync(out);
    const r = runExport(broken, '-o', path.join(out, 'model.pte'), '--qlinear', '8da4w');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error \[InvalidCheckpoint\]: .*model\.safetensors.*tensor '[\w.]+'/m);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toBe('');
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('a folder that is not a checkpoint: exit 2, `error [NotFound]` naming config.json', () => {
    const r = runExport(work, '-o', path.join(work, 'x.pte'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error \[NotFound\]: .*config\.json/m);
    expect(fs.existsSync(path.join(work, 'x.pte'))).toBe(false);
  });

  it('--help prints the export usage (exit 0); a bad command line prints it with the problem (exit 1)', () => {
    const help = runExport('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: executorch-node export <hf-dir> -o <model\.pte>/);
    expect(help.stdout).toContain('--qlinear [scheme]');
    for (const [args, problem] of [
      [[llama], /missing the output file/],
      [['-o', 'x.pte'], /missing the checkpoint folder/],
      [[llama, '-o', 'x.pte', '--qlinear', '3w'], /--qlinear '3w' is not a scheme/],
      [[llama, '-o', 'x.pte', '--qembedding=8da4w'], /--qembedding '8da4w' is not a scheme/],
      [[llama, '-o', 'x.pte', '--max-seq-len', 'many'], /--max-seq-len takes a positive integer, got 'many'/],
      [[llama, '-o', 'x.pte', '--fast'], /unknown option '--fast'/],
      [[llama, llama, '-o', 'x.pte'], /unexpected argument/],
    ] as Array<[string[], RegExp]>) {
      const r = runExport(...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(problem);
      expect(r.stderr).toContain('usage: executorch-node export');
    }
    const top = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/executorch-node inspect/);
    expect(top.stdout).toMatch(/executorch-node export/);
  });

  it('a Gemma 3 vision-language checkpoint goes through loadImageTextToTextModel: the same file as the API', async () => {
    const gemma3mm = path.join(sharedDir(), 'fixtures', 'gemma3-tiny', 'small');
    const viaCli = path.join(work, 'gemma3mm.pte');
    const r = runExport(gemma3mm, '-o', viaCli, '--qlinear', '--max-seq-len', '64');
    expect(r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^lower: vision_encoder, \d+ XNNPACK partitions in all/m);
    expect(r.stderr).toMatch(/^lower: text_decoder /m);
    const module = await loadImageTextToTextModel(gemma3mm, { maxLength: 64, qlinear: true });
    const viaApi = path.join(work, 'gemma3mm-api.pte');
    try {
      await exportToExecuTorchWithXnnpack(module, { outputPath: viaApi });
    } finally {
      await module.close();
    }
    expect(fs.readFileSync(viaCli).equals(fs.readFileSync(viaApi))).toBe(true);
    const program = await Program.load(viaCli, { threads: 1 });
    try {
      expect(program.methodNames).toEqual(expect.arrayContaining(['vision_encoder', 'token_embedding', 'text_decoder']));
    } finally {
      program.dispose();
    }
  });

  it('Ctrl-C while writing: exit 130, the temporary file removed', async () => {
    // A checkpoint big enough (~21M parameters) that its write takes a while (the
    // quantization runs while writing); the signal goes out as soon as the temporary
    // file appears, so the write is under way whatever the machine's speed.
    const dir = path.join(work, 'sizable');
    fs.mkdirSync(dir);
    const config = JSON.parse(fs.readFileSync(path.join(llama, 'config.json'), 'utf8'));
    const [H, I, L, V, heads, kv, hd] = [512, 2048, 4, 8192, 8, 2, 64];
    Object.assign(config, { hidden_size: H, intermediate_size: I, num_hidden_layers: L, vocab_size: V, num_attention_heads: heads, num_key_value_heads: kv, head_dim: hd });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const random = rng(7);
    const t = (name: string, shape: number[]) => f32Tensor(name, shape, Float32Array.from({ length: shape[0] * (shape[1] ?? 1) }, () => (random() - 0.5) * 0.1));
    const tensors = [t('model.embed_tokens.weight', [V, H]), t('lm_head.weight', [V, H]), t('model.norm.weight', [H])];
    for (let l = 0; l < L; l++) {
      const p = `model.layers.${l}.`;
      tensors.push(t(`${p}input_layernorm.weight`, [H]), t(`${p}post_attention_layernorm.weight`, [H]));
      tensors.push(t(`${p}self_attn.q_proj.weight`, [heads * hd, H]), t(`${p}self_attn.k_proj.weight`, [kv * hd, H]), t(`${p}self_attn.v_proj.weight`, [kv * hd, H]));
      tensors.push(t(`${p}self_attn.o_proj.weight`, [H, heads * hd]));
      tensors.push(t(`${p}mlp.gate_proj.weight`, [I, H]), t(`${p}mlp.up_proj.weight`, [I, H]), t(`${p}mlp.down_proj.weight`, [H, I]));
    }
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
    const out = path.join(work, 'interrupted');
    fs.mkdirSync(out);

    let partialSeen = false;
    const watcher = fs.watch(out, () => {
      if (partialSeen || !fs.readdirSync(out).some((f) => f.endsWith('.partial'))) return;
      partialSeen = true;
      child.kill('SIGINT');
    });
    const child = spawn(process.execPath, [cli, 'export', dir, '-o', path.join(out, 'model.pte'), '--qlinear', '--qembedding']);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const code = await exit.finally(() => watcher.close());
    expect(code).toBe(130);
    expect(partialSeen, 'the write had started').toBe(true);
    expect(stderr).toMatch(/interrupted \(SIGINT\); nothing written/);
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('picks the loader from config.json: Gemma 3 with a vision tower is image-text-to-text, the rest causal LM', async () => {
    expect(await checkpointKind(path.join(sharedDir(), 'fixtures', 'gemma3-tiny', 'small'))).toBe('image-text-to-text');
    for (const name of ['llama', 'smollm', 'qwen2', 'qwen3', 'gemma3']) expect(await checkpointKind(path.join(checkpoints, name))).toBe('causal-lm');
    // No or unreadable config.json: the causal-LM loader says what is wrong.
    expect(await checkpointKind(work)).toBe('causal-lm');
  });

  it('the API reports every phase in order: build, lower 0..total, write 0..total bytes, done', async () => {
    const events: ExportProgress[] = [];
    const module = await loadCausalLMModel(llama, { qlinear: '8da4w', maxSeqLen: 32 });
    const outputPath = path.join(work, 'progress.pte');
    try {
      const exported = await exportToExecuTorchWithXnnpack(module, { outputPath, onProgress: (e) => events.push(e) });
      expect(events[0]).toEqual({ phase: 'build' });
      const lower = events.filter((e) => e.phase === 'lower');
      const write = events.filter((e) => e.phase === 'write');
      expect(events.map((e) => e.phase)).toEqual(['build', ...lower.map(() => 'lower'), ...write.map(() => 'write'), 'done']);
      expect(lower[0]).toMatchObject({ method: 'forward', done: 0 });
      expect(lower.map((e) => e.done)).toEqual(lower.map((_, i) => i));
      expect(lower.at(-1)!.done).toBe(lower[0].total);
      expect(lower[0].total).toBeGreaterThan(1);
      expect(write[0].written).toBe(0);
      for (let i = 1; i < write.length; i++) expect(write[i].written).toBeGreaterThanOrEqual(write[i - 1].written);
      expect(write.length).toBeGreaterThan(10); // per weight, not one event for the file
      expect(write.every((e) => e.total === exported.bytes)).toBe(true);
      expect(write.at(-1)!.written).toBe(exported.bytes);
      const done = events.at(-1) as Extract<ExportProgress, { phase: 'done' }>;
      expect(done.path).toBe(outputPath);
      expect(done.bytes).toBe(fs.statSync(outputPath).size);
      expect(done.seconds).toBeGreaterThan(0);
    } finally {
      await module.close();
    }
  });

  it('on a terminal: one line redrawn in place, at most every 100 ms, with percentage, MB and elapsed time', () => {
    let text = '';
    const stream = { isTTY: true, columns: 120, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
    let clock = 0;
    const view = progressView(stream, () => clock);
    try {
      view.update({ phase: 'build' });
      expect(text).toBe('\r\x1b[2Kbuilding graphs  0:00');
      view.update({ phase: 'lower', method: 'forward', done: 0, total: 4 });
      clock = 2000;
      view.update({ phase: 'lower', method: 'forward', done: 4, total: 4 });
      expect(text).toMatch(/lowering forward {2}\[#{30}\] 100% {2}4\/4 partitions {2}0:02$/);
      view.update({ phase: 'write', written: 0, total: 2_000_000 });
      const before = text;
      view.update({ phase: 'write', written: 500_000, total: 2_000_000 }); // within 100 ms: not drawn
      expect(text).toBe(before);
      clock = 65_000;
      view.update({ phase: 'write', written: 1_000_000, total: 2_000_000 });
      expect(text.slice(before.length)).toBe(`\r\x1b[2Kwriting  [${'#'.repeat(15)}${'.'.repeat(15)}]  50%  1.0/2.00 MB  1:05`);
      view.note('note: something');
      expect(text).toMatch(/\r\x1b\[2Knote: something\n\r\x1b\[2Kwriting .*1:05$/);
      view.update({ phase: 'done', path: '/x.pte', bytes: 2_000_000, seconds: 65 });
      expect(text.endsWith('\r\x1b[2K')).toBe(true);
    } finally {
      view.stop();
    }
  });
});
