'use strict';
// The machine's read bandwidth at 1 and 2 threads, measured natively by the microkernel test
// binary's --bench mode (native/tests/microkernel_test.cpp). Each of its GEMV lines ends with
//   "... | cold <us> us <best> (<median>) GB/s <n> Gweights/s | read <R> GB/s, cold/read <x>"
// where `read` is a plain AVX2 summing loop over 256 MiB (DRAM, not cache) just measured on the
// same number of threads, and `cold` is our int4 (qb4w) GEMV kernel streaming 2048x2048 weights
// from DRAM: the ceiling our decode could reach with perfect overlap.
const { execFileSync } = require('child_process');
const fs = require('fs');
const { microkernelBinary } = require('./paths');

const LINE = /^\s*qb4w\s+(\S+)\s+threads=(\d+)\s+hot.*\|\s*cold\s+[\d.]+ us\s+([\d.]+) \(\s*[\d.]+\) GB\/s.*\|\s*read\s+([\d.]+) GB\/s/;

function available() {
  return fs.existsSync(microkernelBinary());
}

/** Parses --bench output into { [threads]: { readGBps, qb4wColdGBps, isa } }. */
function parse(output) {
  const byThreads = {};
  for (const line of output.split('\n')) {
    const m = LINE.exec(line);
    if (m) byThreads[m[2]] = { isa: m[1], qb4wColdGBps: Number(m[3]), readGBps: Number(m[4]) };
  }
  return byThreads;
}

/** One measurement (~5 s): the best ISA only, qb4w only (the weight format of 8da4w). */
function measure() {
  const bin = microkernelBinary();
  const isa = execFileSync(bin, ['--list-isas'], { encoding: 'utf8' }).split('\n')[0].trim();
  const result = parse(execFileSync(bin, ['--bench', 'qb4w', isa], { encoding: 'utf8' }));
  if (!result['1'] || !result['2']) throw new Error(`could not parse the read bandwidth from ${bin} --bench qb4w ${isa}`);
  return result;
}

module.exports = { available, measure, parse };
