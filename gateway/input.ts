/**
 * `wsgi.input` as the gateway makes it: the request body, read the way
 * Python reads a file, opened only when the application first reads.
 *
 * @module
 */

import type { InputStream } from "../types.ts";
import { concat } from "./bytes.ts";
import type { Clock, Due } from "./clock.ts";
import { declaredLength } from "./head.ts";

const EMPTY = new Uint8Array(0);
/** Reads shorter than this gather chunks: often one chunk, and no copy. */
const PREALLOCATE = 64 * 1024;

/**
 * The client is gone: an upload broke off, or the connection closed before
 * the response started. Not the application's fault, so logged in one line.
 */
export class ClientGone extends Error {}

/**
 * A request the gateway will not serve as it came: a GET that declares a
 * body (400), an upload past `limitRequestBody` (413) or stalled past
 * `readTimeout` (408). Answered with `status` when the response has not
 * started, even if the application caught it, and logged in one line.
 */
export class RequestRefused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * `wsgi.input` over a request's body, opened on the first read: under
 * Deno.serve, merely touching `request.body` sets up a stream.
 */
export class Input implements InputStream {
  #request: Request | null;
  #headers?: Headers;
  #body?: ReadableStream<Uint8Array> | null;
  #reader?: ReadableStreamDefaultReader<Uint8Array>;
  #buffer: Uint8Array = EMPTY;
  /** Bytes still to read: PEP 3333 ends the input at CONTENT_LENGTH. */
  #left = Infinity;
  /** Told of every read the application makes, when the trace is on. */
  #observe?: (call: string, given: number) => void;
  /** Bytes received so far, and how many the upload may have. */
  #received = 0;
  #most = Infinity;
  /** Milliseconds without a byte before the read fails; 0 waits forever. */
  #patience = 0;
  /** The clock that looks at a read waiting on the client. */
  #clock?: Clock;
  /** The read under way: since when, and how to fail it as stalled. */
  #readSince = 0;
  #stall?: () => void;
  /** The response ended before the body did: the rest was let go. */
  #discarded = false;
  /**
   * Whether the time reads wait is kept: reads under way, since when
   * (`performance.now()`), and the milliseconds the finished ones waited.
   */
  #timed = false;
  #reads = 0;
  #since = 0;
  #waited = 0;
  /** Why the gateway stopped reading, once it did. */
  refused?: RequestRefused;

  /** No request: an input that is at its end from the start. */
  constructor(request: Request | null, headers?: Headers) {
    this.#request = request;
    this.#headers = headers;
  }

  /**
   * The gateway's limits: at most `most` bytes (0: any number), and a read
   * fails when no byte came for `patience` seconds (0: waits forever), as
   * `clock` sees it. With `timed`, the time reads wait on the client is
   * kept (see {@linkcode waited}), for a deadline that must not count it.
   */
  guard(most: number, patience: number, clock: Clock, timed = false): void {
    if (most > 0) this.#most = most;
    this.#patience = patience * 1000;
    this.#clock = clock;
    this.#timed = timed;
  }

  /** What the clock looks at while a read waits: not the app's to see. */
  #due?: Due;

  /** The clock's look at a read under way: stalled past the patience? */
  #tick(now: number): boolean {
    if (this.#stall === undefined) return false;
    if (now - this.#readSince < this.#patience) return true;
    this.#stall();
    return false;
  }

  /**
   * The milliseconds reads have spent waiting on the client by `now` (a
   * `performance.now()`), the read under way included: plain numbers, kept
   * by two readings of the server's clock per read and no timer.
   */
  waited(now: number): number {
    return this.#reads > 0 ? this.#waited + now - this.#since : this.#waited;
  }

  /**
   * The body, on the first read. Deno.serve frames it by Content-Length
   * already; a Request built by hand may hold more.
   */
  #open(): ReadableStream<Uint8Array> | null {
    const request = this.#request;
    if (request === null) return null;
    const headers = this.#headers ?? request.headers;
    const length = declaredLength(headers);
    if (length >= 0) this.#left = length;
    // Deno.serve never hands over the body of a GET or HEAD: reading one
    // that was declared must not look like reading an empty body.
    const method = request.method;
    if (
      (method === "GET" || method === "HEAD") &&
      (length > 0 || headers.has("transfer-encoding"))
    ) {
      throw this.#refuse(
        400,
        `a ${method} request declared a body, which Deno.serve does not pass on: refused rather than read as empty`,
      );
    }
    return request.body;
  }

  /** Opens the body on the first read; a refusal stands for every read. */
  #opened(): void {
    if (this.refused) throw this.refused;
    if (this.#body === undefined) this.#body = this.#open();
  }

  /** Reports each read from now on: the call, and the bytes it gave. */
  observe(observer: (call: string, given: number) => void): void {
    this.#observe = observer;
  }

  /** The read, and, when observed, a report of it once it is done. */
  #told(
    call: string,
    read: Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    const observe = this.#observe;
    if (observe === undefined) return read;
    return read.then((bytes) => {
      observe(call, bytes.byteLength);
      return bytes;
    });
  }

  /** Makes sure something is buffered; false at the end of the body. */
  async #fill(): Promise<boolean> {
    if (this.#buffer.byteLength > 0) return true;
    this.#opened();
    if (this.#discarded) throw discarded();
    if (this.#body === null || this.#left === 0) return false;
    const reader = this.#reader ??= this.#body!.getReader();
    let step: ReadableStreamReadResult<Uint8Array>;
    // A read waits on the client: the clock fails it if the client stalls
    // (cancelling Deno's body stream does not end a pending read).
    const timed = this.#timed;
    if (timed && this.#reads++ === 0) this.#since = this.#clock!.now;
    let stalled: Promise<"stalled"> | undefined;
    if (this.#patience > 0) {
      const { promise, resolve } = Promise.withResolvers<"stalled">();
      stalled = promise;
      this.#stall = () => resolve("stalled");
      this.#clock!.add(
        this.#due ??= { clockIndex: -1, tick: (now) => this.#tick(now) },
      );
      this.#readSince = this.#clock!.now;
    }
    try {
      step = await (stalled
        ? Promise.race([reader.read(), stalled])
        : reader.read()) as ReadableStreamReadResult<Uint8Array>;
    } catch (error) {
      // A body that broke off is an incomplete request, a 400 as nginx
      // logs it: a client that only closed its sending side still reads.
      throw this.#refuse(
        400,
        malformed(error)
          ? `the request body is malformed: its chunked framing is broken (${error})`
          : "the request body broke off before its end",
      );
    } finally {
      if (this.#stall !== undefined) {
        this.#stall = undefined;
        this.#clock!.delete(this.#due!);
      }
      if (timed && --this.#reads === 0) {
        this.#waited += this.#clock!.now - this.#since;
      }
    }
    if (this.#discarded) throw discarded();
    if ((step as unknown) === "stalled") {
      reader.cancel().catch(() => {});
      throw this.#refuse(
        408,
        `the request body sent nothing for ${
          this.#patience / 1000
        } s (readTimeout)`,
      );
    }
    const { done, value } = step;
    if (done) {
      this.#body = null;
      return false;
    }
    this.#received += value.byteLength;
    if (this.#received > this.#most) {
      reader.cancel().catch(() => {});
      throw this.#refuse(
        413,
        `the request body grew past ${this.#most} bytes (limitRequestBody)`,
      );
    }
    this.#buffer = value.byteLength > this.#left
      ? value.subarray(0, this.#left)
      : value;
    this.#left -= this.#buffer.byteLength;
    // The declared length is all PEP 3333 gives: the stream is let go now,
    // not when the garbage collector finds it. Deno.serve keeps the
    // connection alive only for a body read to its end or cancelled; one
    // read just to its length gets `Connection: close` and a socket left in
    // CLOSE-WAIT. Cancelling also cuts what a Request built by hand holds
    // past its Content-Length.
    if (this.#left === 0) this.#letGo(reader);
    return true;
  }

  /** Ends the body stream without waiting for it. */
  #letGo(reader: ReadableStreamDefaultReader<Uint8Array>): void {
    this.#body = null;
    reader.cancel().catch(() => {});
  }

  /**
   * The response is over: a body the application left unread, in part or
   * whole, is cancelled, so that Deno skips the rest and keeps the
   * connection. Deno decides when the response ends, and closes it after a
   * body read in part and left (the socket then waits in CLOSE-WAIT for a
   * garbage collection) or never touched (measured, Deno 2.9.6). A read
   * after this fails rather than pass for the end of the body.
   */
  release(): void {
    const reader = this.#reader;
    if (reader !== undefined) {
      if (this.#body === null) return;
      this.#discarded = true;
      return this.#letGo(reader);
    }
    // Never opened: GET and HEAD have no body to let go (Deno's is null).
    const request = this.#request;
    if (this.#body !== undefined || request === null) return;
    const method = request.method;
    if (method === "GET" || method === "HEAD") return;
    const body = request.body;
    if (body === null) return;
    this.#discarded = true;
    this.#body = null;
    body.cancel().catch(() => {});
  }

  #refuse(status: 400 | 408 | 413, message: string): RequestRefused {
    this.#body = null;
    return this.refused = new RequestRefused(status, message);
  }

  #take(size: number): Uint8Array {
    const buffer = this.#buffer;
    // A whole chunk goes as it is: no views to make on the hot path.
    if (size >= buffer.byteLength) {
      this.#buffer = EMPTY;
      return buffer;
    }
    this.#buffer = buffer.subarray(size);
    return buffer.subarray(0, size);
  }

  read(size = -1): Promise<Uint8Array> {
    return this.#told(
      `read(${size < 0 ? "" : size})`,
      this.#gather(size < 0 ? Infinity : size, false),
    );
  }

  readline(size = -1): Promise<Uint8Array> {
    return this.#told(
      `readline(${size < 0 ? "" : size})`,
      this.#gather(size < 0 ? Infinity : size, true),
    );
  }

  /**
   * Up to `limit` bytes, fewer only at the end of the body; with `line`,
   * through the first newline. A read that one chunk answers costs no copy;
   * a long read of a body of known length fills one buffer of that length,
   * never holding the body twice.
   */
  async #gather(limit: number, line: boolean): Promise<Uint8Array> {
    this.#opened();
    const known = Math.min(limit, this.#buffer.byteLength + this.#left);
    if (!line && known > PREALLOCATE && known !== Infinity) {
      return this.#fillOnce(known);
    }
    const pieces: Uint8Array[] = [];
    let length = 0;
    while (length < limit && await this.#fill()) {
      const newline = line ? this.#buffer.indexOf(0x0a) : -1;
      const end = newline === -1 ? Infinity : newline + 1;
      const piece = this.#take(Math.min(end, limit - length));
      pieces.push(piece);
      length += piece.byteLength;
      if (piece.byteLength === end) break;
    }
    return concat(pieces, length);
  }

  /** Reads up to `size` bytes straight into one buffer of that size. */
  async #fillOnce(size: number): Promise<Uint8Array> {
    const whole = new Uint8Array(size);
    let length = 0;
    while (length < size && await this.#fill()) {
      const piece = this.#take(size - length);
      whole.set(piece, length);
      length += piece.byteLength;
    }
    return length === size ? whole : whole.subarray(0, length);
  }

  async readlines(hint = -1): Promise<Uint8Array[]> {
    const lines: Uint8Array[] = [];
    let length = 0;
    for await (const line of this.#lines()) {
      lines.push(line);
      length += line.byteLength;
      if (hint > 0 && length >= hint) break;
    }
    this.#observe?.(`readlines(${hint < 0 ? "" : hint})`, length);
    return lines;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for await (const line of this.#lines()) {
      this.#observe?.("next()", line.byteLength);
      yield line;
    }
  }

  #lines(): AsyncGenerator<Uint8Array> {
    return lines(() => this.#gather(Infinity, true));
  }
}

/** A read after the response ended, the body's rest let go. */
function discarded(): Error {
  return new Error(
    "wsgi.input was read after the response had ended: the rest of the request body was discarded",
  );
}

/**
 * Whether a failed read is the client's framing (a chunk size of `zz`, data
 * longer than its size), which Deno's parser reports as an invalid request,
 * rather than a connection that closed.
 */
function malformed(error: unknown): boolean {
  return error instanceof Error &&
    error.message.startsWith("invalid HTTP/1 request");
}

/**
 * Iteration over a file-like input, as Python's: `readline()` until it
 * gives nothing. The validator's input iterates the same way.
 */
export async function* lines(
  readline: () => Promise<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  for (let line = await readline(); line.byteLength > 0;) {
    yield line;
    line = await readline();
  }
}
