#!/usr/bin/env node
import { ExecuTorchError, toExecuTorchError } from '../runtime/errors';
import { EXPORT_USAGE, exportCommand } from './export';
import { formatReport, inspectProgram, reportToJson } from './inspect';
import { UsageError } from './usage-error';

const INSPECT_USAGE = `usage: executorch-node inspect <file.pte> [--data <file.ptd>]... [--json]`;
const USAGE = `${INSPECT_USAGE}\n${EXPORT_USAGE.split('\n')[0]}\n\nexecutorch-node <command> --help for a command's options`;

async function inspectCommand(rest: string[]): Promise<number> {
  let json = false;
  let file: string | undefined;
  const dataFiles: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--help' || arg === '-h') {
      console.log(INSPECT_USAGE);
      return 0;
    }
    if (arg === '--json') json = true;
    else if (arg === '--data') dataFiles.push(rest[++i] ?? '');
    else if (file === undefined) file = arg;
    else throw new UsageError(`unexpected argument '${arg}'`, INSPECT_USAGE);
  }
  if (!file) throw new UsageError('missing the program file (<file.pte>)', INSPECT_USAGE);
  const report = await inspectProgram(file, dataFiles);
  console.log(json ? reportToJson(report) : formatReport(report));
  return 0;
}

const COMMANDS: Record<string, (rest: string[]) => Promise<number>> = {
  inspect: inspectCommand,
  export: exportCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 1 : 0;
  }
  const run = COMMANDS[command];
  if (!run) throw new UsageError(`unknown command '${command}'`, USAGE);
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n${err.usage}`);
      process.exitCode = 1;
      return;
    }
    // Anything else is reported like an ExecuTorchError (code Internal when it is not
    // one), without a stack trace; EXECUTORCH_NODE_DEBUG=1 prints the stack of a bug.
    const e = err instanceof ExecuTorchError ? err : toExecuTorchError(err);
    console.error(`error [${e.code}]: ${e.message}`);
    if (process.env.EXECUTORCH_NODE_DEBUG && err instanceof Error && err.stack) console.error(err.stack);
    process.exitCode = 2;
  },
);
