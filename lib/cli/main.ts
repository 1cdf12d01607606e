#!/usr/bin/env node
import { ExecuTorchError } from '../runtime';
import { formatReport, inspectProgram, reportToJson } from './inspect';

const USAGE = `usage: executorch-node inspect <file.pte> [--data <file.ptd>]... [--json]`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command !== 'inspect') {
    console.error(`unknown command '${command}'\n${USAGE}`);
    return 1;
  }
  let json = false;
  let file: string | undefined;
  const dataFiles: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--json') json = true;
    else if (arg === '--data') dataFiles.push(rest[++i] ?? '');
    else if (file === undefined) file = arg;
    else {
      console.error(`unexpected argument '${arg}'\n${USAGE}`);
      return 1;
    }
  }
  if (!file) {
    console.error(USAGE);
    return 1;
  }
  const report = await inspectProgram(file, dataFiles);
  console.log(json ? reportToJson(report) : formatReport(report));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ExecuTorchError) console.error(`error [${err.code}]: ${err.message}`);
    else console.error(err);
    process.exitCode = 2;
  },
);
