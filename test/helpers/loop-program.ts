import { compilePte, intValue, boolValue, jumpFalse, kernel, move, free, tensorValue } from './pte-json';

/**
 * A program with a loop: acc += x, `iterations` times, using every instruction
 * kind (KernelCall, MoveCall, JumpFalseCall, FreeCall). acc lives in planned
 * memory, so it keeps its value from one execute to the next, as in ExecuTorch.
 *   values: 0 x (input), 1 acc (planned), 2 alpha=1, 3 counter, 4 one, 5 limit,
 *           6 cond, 7 false, 8 scratch (planned), 9 result slot, 10 zero
 */
export function loopProgram(n: number, iterations: number): Uint8Array {
  const bytes = n * 4;
  return compilePte({
    execution_plan: [
      {
        name: 'forward',
        values: [
          tensorValue([n]),
          tensorValue([n], { memoryId: 1, offset: 0 }),
          intValue(1),
          intValue(0),
          intValue(1),
          intValue(iterations),
          boolValue(false),
          boolValue(false),
          tensorValue([n], { memoryId: 1, offset: bytes }),
          { val_type: 'Null', val: {} },
          intValue(0),
        ],
        inputs: [0],
        outputs: [9],
        chains: [
          {
            instructions: [
              move(10, 3), //          0: counter = 0
              kernel(0, [1, 0, 2, 1, 1]), // 1: acc = acc + x
              kernel(1, [3, 4, 3]), //  2: counter = counter + 1
              kernel(2, [3, 5, 6]), //  3: cond = counter < limit
              jumpFalse(6, 6), //      4: if !cond goto 6
              jumpFalse(7, 1), //      5: goto 1
              move(1, 9), //           6: result = acc
              free(8), //              7: scratch is not needed
            ],
          },
        ],
        operators: [
          { name: 'aten::add', overload: 'out' },
          { name: 'executorch_prim::add', overload: 'Scalar' },
          { name: 'executorch_prim::lt', overload: 'Scalar' },
        ],
        non_const_buffer_sizes: [0, 2 * bytes],
      },
    ],
  });
}
