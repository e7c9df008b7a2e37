/**
 * `wsgi.input` as the gateway makes it: the request body, read the way
 * Python reads a file, opened only when the application first reads.
 *
 * @module
 */

import type { InputStream } from "../types.ts";
import { concat } from "./bytes.ts";

const EMPTY = new Uint8Array(0);

/**
 * The client is gone: an upload broke off, or the connection closed before
 * the response started. Not the application's fault, so logged in one line.
 */
export class ClientGone extends Error {}

/**
 * A request the gateway will not serve as it came: answered with `status`
 * (a 4xx) when the response has not started, and logged in one line.
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
  #body?: ReadableStream<Uint8Array> | null;
  #reader?: ReadableStreamDefaultReader<Uint8Array>;
  #buffer: Uint8Array = EMPTY;
  /** Bytes still to read: PEP 3333 ends the input at CONTENT_LENGTH. */
  #left = Infinity;
  /** Told of every read the application makes, when the trace is on. */
  #observe?: (call: string, given: number) => void;

  /** No request: an input that is at its end from the start. */
  constructor(request: Request | null) {
    this.#request = request;
  }

  /**
   * The body, on the first read. Deno.serve frames it by Content-Length
   * already; a Request built by hand may hold more.
   */
  #open(): ReadableStream<Uint8Array> | null {
    const request = this.#request;
    if (request === null) return null;
    const declared = request.headers.get("content-length");
    const length = declared === null ? -1 : Number(declared.split(",", 1)[0]);
    if (length >= 0) this.#left = length;
    // Deno.serve never hands over the body of a GET or HEAD: reading one
    // that was declared must not look like reading an empty body.
    const method = request.method;
    if (
      (method === "GET" || method === "HEAD") &&
      (length > 0 || request.headers.has("transfer-encoding"))
    ) {
      throw new RequestRefused(
        400,
        `a ${method} request declared a body, which Deno.serve does not pass on: refused rather than read as empty`,
      );
    }
    return request.body;
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
    if (this.#body === undefined) this.#body = this.#open();
    if (this.#body === null || this.#left === 0) return false;
    this.#reader ??= this.#body.getReader();
    let step: ReadableStreamReadResult<Uint8Array>;
    try {
      step = await this.#reader.read();
    } catch (error) {
      throw new ClientGone(
        `the request body broke off, the client went away? (${error})`,
      );
    }
    const { done, value } = step;
    if (done) {
      this.#body = null;
      return false;
    }
    this.#buffer = value.byteLength > this.#left
      ? value.subarray(0, this.#left)
      : value;
    this.#left -= this.#buffer.byteLength;
    return true;
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
   * through the first newline. A read that one chunk answers costs no copy.
   */
  async #gather(limit: number, line: boolean): Promise<Uint8Array> {
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

  async *#lines(): AsyncGenerator<Uint8Array> {
    for (
      let line = await this.#gather(Infinity, true);
      line.byteLength > 0;
      line = await this.#gather(Infinity, true)
    ) yield line;
  }
}
