// Instruction semantics on programs written for the purpose (fixtures from the
// wild never use MoveCall, JumpFalseCall or FreeCall).
import { describe, expect, it } from 'vitest';
import { ExecuTorchError, Program, Tensor } from '../lib';
import { loopProgram } from './helpers/loop-program';
import { compilePte, intValue, jumpFalse, kernel, boolValue, tensorValue } from './helpers/pte-json';

describe('instructions', () => {
  it('runs a JumpFalse loop with MoveCall and FreeCall; planned memory persists across executes', async () => {
    const program = await Program.load(loopProgram(5, 7));
    const x = new Tensor(new Float32Array([1, 2, 3, -4, 0.5]), [5]);
    const [first] = await program.execute('forward', [x]);
    expect(Array.from((first as Tensor).data as Float32Array)).toEqual([7, 14, 21, -28, 3.5]);
    const [second] = await program.execute('forward', [x]);
    expect(Array.from((second as Tensor).data as Float32Array)).toEqual([14, 28, 42, -56, 7]);
    expect(program.methodMeta('forward').instructionCount).toBe(8);
    program.dispose();
  });

  it('stops a program that loops forever with InvalidProgram', async () => {
    const bytes = compilePte({
      execution_plan: [
        {
          name: 'forward',
          values: [boolValue(false)],
          inputs: [],
          outputs: [],
          chains: [{ instructions: [jumpFalse(0, 0)] }],
          non_const_buffer_sizes: [0],
        },
      ],
    });
    const program = await Program.load(bytes);
    const err = await program.execute('forward', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecuTorchError);
    expect((err as ExecuTorchError).code).toBe('InvalidProgram');
    expect((err as ExecuTorchError).message).toMatch(/loops/);
  });

  it('rejects out-of-range value, operator and jump indices when the method is built', async () => {
    const base = (instructions: object[], values: object[] = [intValue(1)]): Uint8Array =>
      compilePte({
        execution_plan: [
          {
            name: 'forward',
            values,
            inputs: [],
            outputs: [],
            chains: [{ instructions }],
            operators: [{ name: 'aten::add', overload: 'out' }],
            non_const_buffer_sizes: [0],
          },
        ],
      });
    for (const [bytes, pattern] of [
      [base([kernel(3, [0])]), /calls operator 3/],
      [base([kernel(0, [0, 9])]), /refers to value 9/],
      [base([jumpFalse(0, 17)]), /jumps to 17/],
      [base([], [tensorValue([2], { memoryId: 3 })]), /memory_id 3/],
    ] as [Uint8Array, RegExp][]) {
      const program = await Program.load(bytes);
      const err = await program.loadMethod('forward').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExecuTorchError);
      expect((err as ExecuTorchError).code).toBe('InvalidProgram');
      expect((err as ExecuTorchError).message).toMatch(pattern);
      program.dispose();
    }
  });
});
