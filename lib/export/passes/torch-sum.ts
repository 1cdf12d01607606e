// A float32 sum in the order PyTorch's CPU kernel adds a contiguous row (a `sum` over
// the innermost dim with float32 accumulation, AVX2 build: 8-lane vectors). torchao's
// HQQ quantizer takes its least-squares scale from two such sums, so reproducing the
// official exporter's scales bit for bit means adding in the same order, rounding to
// float32 after every addition:
//
//   the row's first 8 * floor(n / 8) values form vectors of 8 lanes; groups of 4
//   consecutive vectors are accumulated lane-wise into 4 vector partial sums through a
//   cascade of up to 4 levels (a level takes 2^p inner steps, p = max(4, ceil(log2(m)) / 4)
//   with m the number of groups), the vectors after the last full group go into the
//   first partial sum, the 4 partial sums are added in order, then a scalar starting at 0
//   takes the row's tail values (past the last whole vector) and then the 8 lanes in order.
//
// Checked against torch.sum on rows of 32 to 16384 values (tools/interop/hqq).

const LANES = 8;
const ILP = 4;
const LEVELS = 4;

function ceilLog2(x: number): number {
  return x > 1 ? Math.ceil(Math.log2(x)) : 0;
}

/** sum(x[offset .. offset + n)) in torch's float32 order. */
export function torchRowSum(x: ArrayLike<number>, offset: number, n: number): number {
  const vectors = Math.floor(n / LANES);
  const groups = Math.floor(vectors / ILP);
  // partial[k][lane]: the k-th of the 4 interleaved vector sums
  const acc = Array.from({ length: LEVELS }, () => new Float64Array(ILP * LANES));
  const addGroup = (into: Float64Array, g: number) => {
    const base = offset + g * ILP * LANES;
    for (let j = 0; j < ILP * LANES; j++) into[j] = Math.fround(into[j] + x[base + j]);
  };
  const addLevel = (into: Float64Array, from: Float64Array) => {
    for (let j = 0; j < into.length; j++) into[j] = Math.fround(into[j] + from[j]);
  };
  const levelPower = Math.max(4, Math.floor(ceilLog2(groups) / LEVELS));
  const levelStep = 2 ** levelPower;
  const levelMask = levelStep - 1;
  let g = 0;
  while (g + levelStep <= groups) {
    for (let s = 0; s < levelStep; s++, g++) addGroup(acc[0], g);
    for (let l = 1; l < LEVELS; l++) {
      addLevel(acc[l], acc[l - 1]);
      acc[l - 1].fill(0);
      if ((g & (levelMask * 2 ** (l * levelPower))) !== 0) break;
    }
  }
  for (; g < groups; g++) addGroup(acc[0], g);
  for (let l = 1; l < LEVELS; l++) addLevel(acc[0], acc[l]);
  const partial = acc[0];  // [ILP][LANES]
  // Vectors past the last whole group join the first partial sum.
  for (let v = groups * ILP; v < vectors; v++)
    for (let lane = 0; lane < LANES; lane++) partial[lane] = Math.fround(partial[lane] + x[offset + v * LANES + lane]);
  for (let k = 1; k < ILP; k++)
    for (let lane = 0; lane < LANES; lane++) partial[lane] = Math.fround(partial[lane] + partial[k * LANES + lane]);
  let sum = 0;
  for (let i = vectors * LANES; i < n; i++) sum = Math.fround(sum + x[offset + i]);
  for (let lane = 0; lane < LANES; lane++) sum = Math.fround(sum + partial[lane]);
  return sum;
}
