import { Program, MethodMeta, ProgramInfo } from '../runtime';
import { NativeValueMeta } from '../runtime/native';

export interface InspectReport {
  file: string;
  info: ProgramInfo;
  methods: MethodMeta[];
}

export async function inspectProgram(file: string, dataFiles: string[]): Promise<InspectReport> {
  const program = await Program.load(file, { dataFiles, threads: 1 });
  try {
    const methods = program.methodNames.map((name) => program.methodMeta(name));
    return { file, info: program.info, methods };
  } finally {
    program.dispose();
  }
}

function describeValue(v: NativeValueMeta): string {
  if (v.kind === 'tensor') {
    const dyn = v.dynamism && v.dynamism !== 'static' ? ` (${v.dynamism})` : '';
    return `${v.dtype}[${(v.shape ?? []).join(', ')}]${dyn}`;
  }
  if (v.value !== undefined) return `${v.kind} ${typeof v.value === 'string' ? JSON.stringify(v.value) : String(v.value)}`;
  return v.kind;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatReport(r: InspectReport): string {
  const lines: string[] = [];
  const h = r.info.extendedHeader;
  lines.push(`${r.file}: ${formatBytes(r.info.fileSize)}`);
  lines.push(
    h
      ? `  header: eh00 length ${h.length}, program ${h.programSize} B, segments at ${h.segmentBaseOffset} (${h.segmentDataSize} B)`
      : '  header: none (plain flatbuffer)',
  );
  if (r.info.legacyConstantBuffers > 1) lines.push(`  constants: ${r.info.legacyConstantBuffers - 1} legacy constant_buffer entries`);
  if (r.info.constantSegmentEntries > 1) lines.push(`  constants: ${r.info.constantSegmentEntries - 1} in the constant segment`);
  if (r.info.mutableDataSegments > 0) lines.push(`  mutable data segments: ${r.info.mutableDataSegments}`);
  lines.push(`  segments: ${r.info.segments.length}`);
  r.info.segments.forEach((s, i) => lines.push(`    [${i}] offset ${s.offset}, ${formatBytes(s.size)}`));
  if (r.info.namedData.length > 0) {
    lines.push(`  named data: ${r.info.namedData.length}`);
    for (const n of r.info.namedData) lines.push(`    ${n.key} -> segment ${n.segment} (${formatBytes(n.size)})`);
  }
  for (const f of r.info.dataFiles) lines.push(`  data file ${f.name}: ${f.keys.join(', ')}`);
  lines.push(`  methods: ${r.methods.length}`);
  for (const m of r.methods) {
    lines.push(`  ${m.name}: ${m.instructionCount} instructions, ${m.valueCount} values`);
    lines.push(`    inputs:  ${m.inputs.map(describeValue).join(', ') || '(none)'}`);
    lines.push(`    outputs: ${m.outputs.map(describeValue).join(', ') || '(none)'}`);
    if (m.operators.length > 0) lines.push(`    operators: ${m.operators.map((o) => `${o.name} x${o.calls}`).join(', ')}`);
    for (const [i, d] of m.delegates.entries()) {
      const nodes = d.graph
        ? ` ${d.graph.format}: ${Object.entries(d.graph.nodeCounts).map(([k, v]) => `${k} x${v}`).join(', ')}`
        : '';
      const err = d.error ? ` (unreadable: ${d.error})` : '';
      lines.push(`    delegate ${i}: ${d.id} (${d.location} ${d.index}, ${formatBytes(d.size)})${nodes}${err}`);
    }
    if (m.plannedBufferSizes.length > 0) lines.push(`    planned memory: ${m.plannedBufferSizes.map(formatBytes).join(', ')}`);
  }
  return lines.join('\n');
}

export function reportToJson(r: InspectReport): string {
  return JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
}
