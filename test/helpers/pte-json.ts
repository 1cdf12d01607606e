import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from './paths';

/**
 * Compiles a program written as JSON (the flatc JSON form of our own
 * native/schema/program.fbs) into .pte bytes with flatc, the schema compiler
 * the build already needs. Lets tests state small programs exactly:
 * control flow, odd value tables, instructions the fixtures never use.
 */
export function compilePte(program: object): Uint8Array {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etn-pte-'));
  try {
    const json = path.join(dir, 'program.json');
    fs.writeFileSync(json, JSON.stringify(program));
    const schema = path.join(repoRoot, 'native', 'schema', 'program.fbs');
    execFileSync('flatc', ['--binary', '-o', dir, schema, json], { stdio: 'pipe' });
    return new Uint8Array(fs.readFileSync(path.join(dir, 'program.pte')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const tensorValue = (
  sizes: number[],
  opts: { dtype?: string; memoryId?: number; offset?: number; constant?: number; dynamic?: boolean } = {},
): object => ({
  val_type: 'Tensor',
  val: {
    scalar_type: opts.dtype ?? 'FLOAT',
    sizes,
    dim_order: sizes.map((_, i) => i),
    ...(opts.constant ? { data_buffer_idx: opts.constant } : {}),
    ...(opts.memoryId ? { allocation_info: { memory_id: opts.memoryId, memory_offset_low: opts.offset ?? 0 } } : {}),
    ...(opts.dynamic ? { shape_dynamism: 'DYNAMIC_BOUND' } : {}),
  },
});
export const intValue = (v: number): object => ({ val_type: 'Int', val: { int_val: v } });
export const boolValue = (v: boolean): object => ({ val_type: 'Bool', val: { bool_val: v } });
export const doubleValue = (v: number): object => ({ val_type: 'Double', val: { double_val: v } });
export const kernel = (op: number, args: number[]): object => ({ instr_args_type: 'KernelCall', instr_args: { op_index: op, args } });
export const jumpFalse = (cond: number, dest: number): object => ({
  instr_args_type: 'JumpFalseCall',
  instr_args: { cond_value_index: cond, destination_instruction: dest },
});
export const move = (from: number, to: number): object => ({ instr_args_type: 'MoveCall', instr_args: { move_from: from, move_to: to } });
export const free = (v: number): object => ({ instr_args_type: 'FreeCall', instr_args: { value_index: v } });
