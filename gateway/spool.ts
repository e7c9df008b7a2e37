/**
 * Log lines on their way to standard output without ever stopping the
 * server: UTF-8 gathered in a bounded buffer, drained by asynchronous
 * writes. A sink that cannot keep up (a full pipe nobody reads, a slow
 * terminal) costs lines, counted and reported on standard error, never a
 * request.
 *
 * A line becomes bytes as it is queued: a queue of strings or entries kept
 * each of them alive for the garbage collector to move, which under load
 * cost more than making the line.
 *
 * @module
 */

import { encoder, utf8Length } from "./bytes.ts";

/** How long lines gather before a write: a log line is never later. */
const GATHER_MS = 10;

/** Where a spool writes: `Deno.stdout` has this shape. */
export interface Writer {
  write(bytes: Uint8Array): Promise<number>;
}

/** The bytes of the lines gathered for one write. */
export class Batch {
  bytes: Uint8Array;
  length = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }

  /**
   * `text` as UTF-8. The caller has made room for it (three bytes per UTF-16
   * unit are always enough).
   */
  text(text: string): void {
    const bytes = this.bytes;
    let at = this.length;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code > 0x7f) {
        // Addresses, methods and URLs are ASCII: the rest seldom comes.
        at += encoder.encodeInto(text.slice(i), bytes.subarray(at)).written;
        break;
      }
      bytes[at++] = code;
    }
    this.length = at;
  }

  /** A number, in decimal: a whole one without making a string. */
  digits(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) return this.text(String(n));
    let last = this.length;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) last++;
    this.length = last + 1;
    for (let rest = n;; rest = Math.floor(rest / 10)) {
      this.bytes[last--] = 48 + rest % 10;
      if (rest < 10) return;
    }
  }
}

/**
 * Where a spool says that lines are lost: a promise, when the saying may
 * take a while, which the final count waits for (briefly).
 */
export type Warn = (line: string) => unknown;

/**
 * A bounded buffer of lines drained by one asynchronous write loop. When
 * `limit` bytes are gathered (besides the batch being written, as large at
 * most), new lines are dropped and counted, and so are lines a write could
 * not take (a reader gone): one warning line says so when it starts, one
 * gives the count at the next {@linkcode Spool.flush}, which the server
 * makes as it stops.
 */
export class Spool {
  #to: Writer;
  #warn: Warn;
  #limit: number;
  /** Where lines go now; the other batch is being written, or empty. */
  #batch: Batch;
  #spare?: Batch;
  /** The batch a write is taking now, and how much of it went. */
  #writing?: Batch;
  #sent = 0;
  #dropped = 0;
  #draining?: Promise<void>;
  /** What the warnings call the sink. */
  #name: string;

  constructor(
    to: Writer,
    warn: Warn,
    limit = 1 << 20,
    name = "standard output",
  ) {
    this.#name = name;
    this.#to = to;
    this.#warn = warn;
    this.#limit = limit;
    this.#batch = new Batch(Math.min(limit, 1 << 16));
  }

  /** Queues one line (without its newline); never waits. */
  push(line: string): void {
    const batch = this.batch(utf8Length(line));
    if (batch === undefined) return;
    batch.text(line);
    batch.text("\n");
  }

  /**
   * The batch to write one line of at most `most` bytes and its newline
   * into, right now; or nothing when the spool is full, and the line is
   * dropped and counted.
   */
  batch(most: number): Batch | undefined {
    let batch = this.#batch;
    const needed = batch.length + most + 1;
    if (needed > batch.bytes.length) {
      if (needed > this.#limit) {
        this.#lose(1, "is not keeping up");
        return undefined;
      }
      const grown = new Batch(
        Math.min(this.#limit, Math.max(needed, 2 * batch.bytes.length)),
      );
      grown.bytes.set(batch.bytes.subarray(0, batch.length));
      grown.length = batch.length;
      batch = this.#batch = grown;
    }
    this.#draining ??= this.#drain();
    return batch;
  }

  /**
   * Resolves once every queued line is written, or after `seconds` if the
   * sink is stuck, so a shutdown never waits forever on a pipe; then says
   * how many lines were lost, those still waiting on a stuck sink among
   * them (the server is about to exit without them).
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
    if (this.#draining !== undefined) {
      const writing = this.#writing;
      const left = writing?.bytes.subarray(this.#sent, writing.length);
      this.#dropped += (left ? lines(left) : 0) +
        lines(this.#batch.bytes.subarray(0, this.#batch.length));
      this.#batch.length = 0;
    }
    await this.#report();
  }

  async #drain(): Promise<void> {
    // The lines of a few milliseconds go out together: under load, one
    // write for hundreds of requests, not one per turn of the event loop.
    // The first is being written as this starts: the loop tests after.
    do {
      // Also between writes: what came during a write waits for company.
      await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
      const batch = this.#writing = this.#batch;
      // Lines that come during the write go into the other batch.
      this.#batch = this.#spare ?? new Batch(batch.bytes.length);
      this.#spare = undefined;
      this.#sent = 0;
      try {
        while (this.#sent < batch.length) {
          const written = await this.#to.write(
            batch.bytes.subarray(this.#sent, batch.length),
          );
          if (!(written > 0)) throw new Error("nothing written");
          this.#sent += written;
        }
      } catch (error) {
        // A closed standard output: what is left of the batch is lost and
        // counted, and the spool goes on.
        this.#lose(
          lines(batch.bytes.subarray(this.#sent, batch.length)),
          `cannot be written (${error})`,
        );
      }
      this.#writing = undefined;
      batch.length = 0;
      this.#spare = batch;
    } while (this.#batch.length > 0);
    this.#draining = undefined;
  }

  /** Counts lost lines; the first since the last count is said at once. */
  #lose(count: number, why: string): void {
    if (count === 0) return;
    if (this.#dropped === 0) {
      this.#warn(`[wsgi] ${this.#name} ${why}: log lines are being dropped`);
    }
    this.#dropped += count;
  }

  async #report(): Promise<void> {
    if (this.#dropped === 0) return;
    const said = this.#warn(
      `[wsgi] ${this.#dropped} log lines were dropped: ${this.#name} did not keep up`,
    );
    this.#dropped = 0;
    // The server exits next: the count is worth a moment, not a hang.
    if (said instanceof Promise) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        said,
        new Promise((resolve) => timer = setTimeout(resolve, 500)),
      ]);
      clearTimeout(timer);
    }
  }
}

function lines(bytes: Uint8Array): number {
  let count = 0;
  for (const byte of bytes) if (byte === 10) count++;
  return count;
}
