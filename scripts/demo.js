#!/usr/bin/env node
// `npm run demo`: loads the tiny program the repository ships (an official
// ExecuTorch training program for XOR with external weights), shows its
// methods and runs its forward pass on the four XOR inputs.
'use strict';
const path = require('path');
const { Program, Tensor } = require('..');

async function main() {
  const dir = path.join(__dirname, '..', 'test', 'fixtures', 'programs');
  const program = await Program.load(path.join(dir, 'xor.pte'), { dataFiles: [path.join(dir, 'xor.ptd')] });
  console.log(`methods: ${program.methodNames.join(', ')}`);
  const meta = program.methodMeta('forward');
  console.log(`forward: ${meta.instructionCount} instructions, ${meta.operators.length} operators`);
  console.log(`  inputs:  ${meta.inputs.map((i) => `${i.dtype}[${i.shape}]`).join(', ')}`);
  console.log(`  outputs: ${meta.outputs.map((o) => `${o.dtype}[${o.shape}]`).join(', ')}`);
  const [fqns] = [await program.execute('__et_training_fqn_forward')];
  console.log(`  parameters: ${fqns.join(', ')}`);
  for (const [a, b] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
    const label = a ^ b;
    const start = process.hrtime.bigint();
    const [loss, prediction] = await program.execute('forward', [
      new Tensor(new Float32Array([a, b]), [1, 2]),
      new Tensor(new BigInt64Array([BigInt(label)]), [1]),
    ]);
    const us = Number(process.hrtime.bigint() - start) / 1000;
    console.log(`  xor(${a}, ${b}) = ${label}: loss ${loss.data[0].toFixed(4)}, predicted ${prediction.data[0]}  (${us.toFixed(0)} us)`);
  }
  program.dispose();
}

main().catch((err) => {
  console.error(`${err.code ?? 'Error'}: ${err.message}`);
  process.exit(1);
});
