// How `executorch-node export` shows its progress on stderr: on a terminal, one line
// redrawn in place (phase, bar, percentage, counts, elapsed time); anywhere else (a log
// file, CI, a pipe) one plain line when each phase starts, since a redrawn line would
// come out as hundreds of lines there.
import type { ExportProgress } from '../optimum/export-xnnpack';

export interface ProgressView {
  /** A line of its own (printed above the bar on a terminal). */
  note(text: string): void;
  update(event: ExportProgress): void;
  /** Removes the bar; the stream is clean for what follows. */
  stop(): void;
}

/** Megabytes (10^6 bytes), with more digits for small files so they do not read 0.0. */
export function formatMB(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 10e6 ? 2 : 1)} MB`;
}

/** m:ss, as a progress bar shows elapsed time. */
export function formatClock(seconds: number): string {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const BAR_WIDTH = 30;
// Redraws are cheap but not free, and a terminal cannot show more than this anyway.
const MIN_REDRAW_MS = 100;
// Keeps the elapsed time moving while a phase reports nothing (a large weight being
// quantized, or the event loop busy in between).
const TICK_MS = 500;

export function progressView(stream: NodeJS.WriteStream, now: () => number = () => performance.now()): ProgressView {
  return stream.isTTY ? new TerminalProgress(stream, now) : new PlainProgress(stream, now);
}

function bar(fraction: number): string {
  const f = Math.min(Math.max(fraction, 0), 1);
  const full = Math.round(f * BAR_WIDTH);
  return `[${'#'.repeat(full)}${'.'.repeat(BAR_WIDTH - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

class TerminalProgress implements ProgressView {
  private readonly start: number;
  private last: ExportProgress | null = null;
  private drawnAt = -Infinity;
  private shown = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly stream: NodeJS.WriteStream, private readonly now: () => number) {
    this.start = now();
    this.timer = setInterval(() => this.draw(), TICK_MS);
    this.timer.unref();
  }

  note(text: string): void {
    this.clear();
    this.stream.write(`${text}\n`);
    this.draw();
  }

  update(event: ExportProgress): void {
    const phaseChanged = this.last?.phase !== event.phase;
    this.last = event;
    if (event.phase === 'done') return this.clear();
    const finished = (event.phase === 'write' && event.written === event.total) || (event.phase === 'lower' && event.done === event.total);
    if (phaseChanged || finished || this.now() - this.drawnAt >= MIN_REDRAW_MS) this.draw();
  }

  stop(): void {
    clearInterval(this.timer);
    this.clear();
  }

  private line(e: ExportProgress): string {
    const clock = formatClock((this.now() - this.start) / 1000);
    switch (e.phase) {
      case 'build':
        return `building graphs  ${clock}`;
      case 'lower':
        return `lowering ${e.method}  ${bar(e.total ? e.done / e.total : 1)}  ${e.done}/${e.total} partitions  ${clock}`;
      case 'write':
        return `writing  ${bar(e.total ? e.written / e.total : 1)}  ${(e.written / 1e6).toFixed(1)}/${formatMB(e.total)}  ${clock}`;
      case 'done':
        return '';
    }
  }

  private draw(): void {
    if (!this.last || this.last.phase === 'done') return;
    const width = Math.max((this.stream.columns || 80) - 1, 20); // 0 when the size is unknown
    this.stream.write(`\r\x1b[2K${this.line(this.last).slice(0, width)}`);
    this.drawnAt = this.now();
    this.shown = true;
  }

  private clear(): void {
    if (this.shown) this.stream.write('\r\x1b[2K');
    this.shown = false;
  }
}

class PlainProgress implements ProgressView {
  private readonly start: number;
  private phase: ExportProgress['phase'] | null = null;
  private method: string | null = null;

  constructor(private readonly stream: NodeJS.WriteStream, private readonly now: () => number) {
    this.start = now();
  }

  note(text: string): void {
    this.stream.write(`${text}\n`);
  }

  update(event: ExportProgress): void {
    const first = this.phase !== event.phase;
    this.phase = event.phase;
    const at = `(${((this.now() - this.start) / 1000).toFixed(1)} s)`;
    switch (event.phase) {
      case 'build':
        if (first) this.note(`build: method graphs ${at}`);
        break;
      case 'lower':
        if (event.method !== this.method) this.note(`lower: ${event.method}${first ? `, ${event.total} XNNPACK partitions in all` : ''} ${at}`);
        this.method = event.method;
        break;
      case 'write':
        if (first) this.note(`write: ${formatMB(event.total)} ${at}`);
        break;
      case 'done':
        break;
    }
  }

  stop(): void {}
}
