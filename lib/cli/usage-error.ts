// A command line the CLI cannot act on: reported with the command's usage and exit
// code 1, unlike an ExecuTorchError from the work itself (exit code 2).
export class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
    this.name = 'UsageError';
  }
}
