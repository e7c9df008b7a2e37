/**
 * Log lines on their way to standard output without ever stopping the
 * server: a bounded queue drained by asynchronous writes. A sink that
 * cannot keep up (a full pipe nobody reads, a slow terminal) costs lines,
 * counted and reported on standard error, never a request.
 *
 * @module
 */

import { encoder } from "./bytes.ts";

/** How long lines gather before a write: a log line is never later. */
const GATHER_MS = 10;

/**
 * A line, or what makes it when written: an access-log entry waits as its
 * parts, and all the entries of a write are formatted together. `length`
 * need only be near: it counts against the spool's bound.
 */
export type Line = string | { readonly length: number; toString(): string };

/** Where a spool writes: `Deno.stdout` has this shape. */
export interface Writer {
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * A bounded queue of lines drained by one asynchronous write loop. When
 * `limit` bytes are waiting, new lines are dropped and counted: one warning
 * line says so when it starts, one gives the count when it ends.
 */
export class Spool {
  #to: Writer;
  #warn: (line: string) => void;
  #limit: number;
  #queue: Line[] = [];
  #waiting = 0;
  #dropped = 0;
  #draining?: Promise<void>;

  constructor(to: Writer, warn: (line: string) => void, limit = 1 << 20) {
    this.#to = to;
    this.#warn = warn;
    this.#limit = limit;
  }

  /** Queues one line (without its newline); never waits. */
  push(line: Line): void {
    if (this.#waiting + line.length >= this.#limit) {
      if (this.#dropped++ === 0) {
        this.#warn(
          "[wsgi] standard output is not keeping up: log lines are being dropped",
        );
      }
      return;
    }
    this.#queue.push(line);
    this.#waiting += line.length + 1;
    this.#draining ??= this.#drain();
  }

  /**
   * Resolves once every queued line is written, or after `seconds` if the
   * sink is stuck, so a shutdown never waits forever on a pipe.
   */
  async flush(seconds = 2): Promise<void> {
    if (this.#draining !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, seconds * 1000);
      });
      await Promise.race([this.#draining, late]);
      clearTimeout(timer);
    }
    this.#report();
  }

  async #drain(): Promise<void> {
    // The lines of a few milliseconds go out together: under load, one
    // write for hundreds of requests, not one per turn of the event loop.
    while (this.#queue.length > 0) {
      // Also between writes: what came during a write waits for company.
      await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
      const lines = this.#queue;
      this.#queue = [];
      this.#waiting = 0;
      try {
        // Everything queued goes in one write: a burst costs one syscall.
        const bytes = encoder.encode(lines.join("\n") + "\n");
        for (let sent = 0; sent < bytes.byteLength;) {
          sent += await this.#to.write(bytes.subarray(sent));
        }
      } catch {
        // A closed standard output, or a line that could not be made: the
        // batch is lost and counted, and the queue goes on.
        this.#dropped += lines.length;
      }
    }
    this.#draining = undefined;
    this.#report();
  }

  #report(): void {
    if (this.#dropped === 0) return;
    this.#warn(
      `[wsgi] ${this.#dropped} log lines were dropped: standard output did not keep up`,
    );
    this.#dropped = 0;
  }
}
