import { physicalCores } from './cpu';
import { ExecuTorchError, toExecuTorchError } from './errors';
import { NativeMethodMeta, NativeProgramHandle, NativeProgramInfo, native } from './native';
import { Value, fromNativeValue, toNativeInput } from './values';

export interface ProgramLoadOptions {
  /** External weight files (.ptd) the program refers to, as paths or bytes. */
  dataFiles?: Array<string | Uint8Array>;
  /** Threads for parallel kernels and delegates (one pool per program); default: the physical cores. */
  threads?: number;
  /**
   * Most bytes of planned (activation + mutable state) memory one method may
   * ask for; a program planning more fails with OutOfMemory instead of
   * exhausting the machine. Default: the machine's physical memory.
   */
  memoryLimit?: number;
}

export type MethodMeta = NativeMethodMeta;
export type ProgramInfo = NativeProgramInfo;

/**
 * A loaded ExecuTorch program (.pte). Loading and execution happen on worker
 * threads; calls to one method run one at a time, in call order.
 */
export class Program {
  readonly source: string;
  private handle: NativeProgramHandle | undefined;
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly metaCache = new Map<string, MethodMeta>();

  private constructor(handle: NativeProgramHandle, source: string) {
    this.handle = handle;
    this.source = source;
  }

  /** Memory-maps and verifies a program file (or copies a buffer) off the main thread. */
  static async load(source: string | Uint8Array | ArrayBuffer, options: ProgramLoadOptions = {}): Promise<Program> {
    const threads = options.threads ?? physicalCores();
    if (!Number.isInteger(threads) || threads < 1 || threads > 1024)
      throw new ExecuTorchError('InvalidArgument', `threads must be an integer in 1..1024, got ${String(threads)}`);
    const bytes = source instanceof ArrayBuffer ? new Uint8Array(source) : source;
    if (typeof bytes !== 'string' && !(bytes instanceof Uint8Array))
      throw new ExecuTorchError('InvalidArgument', 'Program.load takes a file path, a Uint8Array or an ArrayBuffer');
    const dataFiles = options.dataFiles ?? [];
    const memoryLimit = options.memoryLimit ?? 0;
    if (typeof memoryLimit !== 'number' || !(memoryLimit >= 0))
      throw new ExecuTorchError('InvalidArgument', `memoryLimit must be a non-negative number of bytes`);
    try {
      const handle = await native().loadProgram(bytes, dataFiles, threads, memoryLimit);
      return new Program(handle, typeof bytes === 'string' ? bytes : '<buffer>');
    } catch (err) {
      throw toExecuTorchError(err);
    }
  }

  get methodNames(): string[] {
    return this.live().methodNames();
  }

  /** Inputs, outputs, operators, delegates and planned memory of a method, without building it. */
  methodMeta(name: string): MethodMeta {
    let meta = this.metaCache.get(name);
    if (!meta) {
      try {
        meta = this.live().methodMeta(name);
      } catch (err) {
        throw toExecuTorchError(err);
      }
      this.metaCache.set(name, meta);
    }
    return meta;
  }

  /** File layout: extended header, segments, named data, attached data files. */
  get info(): ProgramInfo {
    return this.live().info();
  }

  /** Builds a method ahead of its first execute (kernels resolved, delegates initialised). */
  loadMethod(name: string): Promise<void> {
    return this.enqueue(name, (h) => h.loadMethod(name));
  }

  /** Runs a method; resolves to its outputs (Tensors and scalars). */
  execute(name: string, inputs: Value[] = []): Promise<Value[]> {
    if (!Array.isArray(inputs)) return Promise.reject(new ExecuTorchError('InvalidArgument', 'inputs must be an array'));
    return this.enqueue(name, async (h) => {
      const meta = this.methodMeta(name);
      const nativeInputs = inputs.map((v, i) => toNativeInput(v, i, meta.inputs[i]));
      const outputs = await h.execute(name, nativeInputs);
      return outputs.map(fromNativeValue);
    });
  }

  /** Releases the program; calls still queued are rejected, a running one finishes first. */
  dispose(): void {
    const h = this.handle;
    this.handle = undefined;
    this.metaCache.clear();
    h?.dispose();
  }

  get disposed(): boolean {
    return this.handle === undefined;
  }

  private live(): NativeProgramHandle {
    if (!this.handle) throw new ExecuTorchError('Disposed', `program ${this.source} has been disposed`);
    return this.handle;
  }

  private enqueue<T>(method: string, run: (h: NativeProgramHandle) => Promise<T>): Promise<T> {
    const previous = this.queues.get(method) ?? Promise.resolve();
    const next = previous.then(
      () => this.runOne(run),
      () => this.runOne(run),
    );
    const tail = next.catch(() => undefined);
    this.queues.set(method, tail);
    void tail.then(() => {
      if (this.queues.get(method) === tail) this.queues.delete(method);
    });
    return next;
  }

  private async runOne<T>(run: (h: NativeProgramHandle) => Promise<T>): Promise<T> {
    try {
      return await run(this.live());
    } catch (err) {
      throw toExecuTorchError(err);
    }
  }
}


