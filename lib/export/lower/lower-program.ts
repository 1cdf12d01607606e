// Methods (graphs) and constant methods -> ProgramSpec, ready for the writer.
import { Graph } from '../graph/graph';
import { ByteSource, EValueSpec, MethodSpec, NamedDataSpec, ProgramSpec } from '../pte/program-spec';
import { ConstantTable } from './constant-table';
import { lowerMethod } from './lower-method';

/** A method with no inputs returning fixed values (optimum's metadata: get_max_seq_len, ...). */
export type ConstantValue = number | boolean | string | { double: number };

export interface ProgramParts {
  graphs: Graph[];
  constantMethods: Record<string, ConstantValue[]>;
  /** Data delegates refer to by key (XNNPACK weights), from the partition pass. */
  namedData?: NamedDataSpec[];
  /** Constant sources with the bytes of another (passes/constant-dedup): stored once. */
  constantAliases?: ReadonlyMap<ByteSource, ByteSource>;
}

export function lowerProgram(parts: ProgramParts): ProgramSpec {
  const constants = new ConstantTable(parts.constantAliases);
  const methods = parts.graphs.map((g) => lowerMethod(g, constants));
  for (const [name, outputs] of Object.entries(parts.constantMethods)) methods.push(constantMethod(name, outputs));
  methods.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { methods, constants: constants.sources, namedData: parts.namedData ?? [] };
}

function constantMethod(name: string, outputs: ConstantValue[]): MethodSpec {
  const values: EValueSpec[] = outputs.map((v) => {
    if (typeof v === 'boolean') return { kind: 'bool', value: v };
    if (typeof v === 'string') return { kind: 'string', value: v };
    if (typeof v === 'number') return { kind: 'int', value: v };
    return { kind: 'double', value: v.double };
  });
  const ids = values.map((_, i) => i);
  return {
    name, values, inputs: [], outputs: ids,
    chains: [{ inputs: [], outputs: ids, instructions: [] }],
    operators: [], delegates: [], nonConstBufferSizes: [0],
  };
}
