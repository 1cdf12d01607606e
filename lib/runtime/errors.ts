/** Stable error codes; `err.code` is one of these. */
export type ExecuTorchErrorCode =
  | 'InvalidProgram'
  | 'InvalidArgument'
  | 'InvalidCheckpoint'
  | 'OperatorMissing'
  | 'BackendNotAvailable'
  | 'NotSupported'
  | 'OutOfMemory'
  | 'NotFound'
  | 'IoError'
  | 'Internal'
  | 'Disposed'
  | 'Aborted'
  | 'NativeModuleMissing';

const KNOWN_CODES = new Set<string>([
  'InvalidProgram', 'InvalidArgument', 'InvalidCheckpoint', 'OperatorMissing', 'BackendNotAvailable', 'NotSupported',
  'OutOfMemory', 'NotFound', 'IoError', 'Internal', 'Disposed', 'Aborted', 'NativeModuleMissing',
]);

/** Every failure of this package is an ExecuTorchError with a stable `code`. */
export class ExecuTorchError extends Error {
  readonly code: ExecuTorchErrorCode;

  constructor(code: ExecuTorchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExecuTorchError';
    this.code = code;
  }
}

/** Converts an error thrown by the native addon (an Error with a `code`) to an ExecuTorchError. */
export function toExecuTorchError(err: unknown): ExecuTorchError {
  if (err instanceof ExecuTorchError) return err;
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    const known = typeof code === 'string' && KNOWN_CODES.has(code) ? (code as ExecuTorchErrorCode) : 'Internal';
    return new ExecuTorchError(known, err.message, { cause: err });
  }
  return new ExecuTorchError('Internal', String(err));
}
