'use strict';
// Turns the raw runs into the printed tables: medians per (engine, threads), ratios ours / peer.

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// Rows of the table: label, what is better, how to get the value from one run, display precision.
const METRICS = [
  { label: 'load (s)', better: 'lower', get: (r) => r.loadMs / 1e3, digits: 2 },
  { label: 'first-call TTFT (ms)', better: 'lower', get: (r) => r.ttftFirstMs, digits: 0 },
  { label: 'prefill (tok/s)', better: 'higher', get: (r) => r.prefillTokPerS, digits: 1 },
  { label: 'TTFT (ms)', better: 'lower', get: (r) => r.ttftMs, digits: 0 },
  { label: 'decode (tok/s)', better: 'higher', get: (r) => r.decodeTokPerS, digits: 1 },
  { label: 'peak RSS (MB)', better: 'lower', get: (r) => r.peakRssBytes / 1e6, digits: 0 },
  { label: 'weights read/token (MB)', better: null, get: (r) => r.streamedBytesPerToken / 1e6, digits: 0 },
  { label: 'decode stream (GB/s)', better: 'higher', get: (r) => (r.streamedBytesPerToken * r.decodeTokPerS) / 1e9, digits: 1 },
  { label: 'fraction of read BW', better: 'higher', get: (r) => (r.readGBps ? (r.streamedBytesPerToken * r.decodeTokPerS) / 1e9 / r.readGBps : null), digits: 2 },
];

/** Median of each metric over the successful runs of one engine at one thread count. */
function summarize(runs) {
  const ok = runs.filter((r) => !r.error);
  const out = { runs: ok.length, failed: runs.length - ok.length };
  for (const m of METRICS) out[m.label] = median(ok.map(m.get));
  return out;
}

const fmt = (v, digits) => (v === null || v === undefined ? '-' : v.toFixed(digits));
const pad = (s, n) => String(s).padStart(n);

/** One table per thread count: a column per engine, then ours/peer ratio columns. */
function table(threads, engines, summaries) {
  const [ours, ...peers] = engines;
  const head = ['', ours.label];
  for (const p of peers) head.push(p.label, `ours/${p.short}`);
  const widths = [26, ...head.slice(1).map((h) => Math.max(h.length, 9))];
  const lines = [head.map((h, i) => (i === 0 ? h.padEnd(widths[0]) : pad(h, widths[i]))).join('  ')];
  for (const m of METRICS) {
    const a = summaries[ours.id][m.label];
    const cells = [`${m.label}${m.better ? (m.better === 'higher' ? ' ^' : ' v') : ''}`.padEnd(widths[0]), fmt(a, m.digits)];
    for (const p of peers) {
      const b = summaries[p.id][m.label];
      cells.push(fmt(b, m.digits), a !== null && b ? fmt(a / b, 2) : '-');
    }
    lines.push(cells.map((c, i) => (i === 0 ? c : pad(c, widths[i]))).join('  '));
  }
  const counts = engines.map((e) => `${e.short} ${summaries[e.id].runs}${summaries[e.id].failed ? ` (+${summaries[e.id].failed} failed)` : ''}`);
  return [`threads = ${threads}  (medians; runs: ${counts.join(', ')}; ^ higher is better, v lower is better)`, ...lines].join('\n');
}

module.exports = { median, summarize, table, METRICS };
