/**
 * The environ's two streams as the gateway makes them: `wsgi.input` over a
 * request body, and `wsgi.errors` on standard error.
 *
 * @module
 */

import type { ErrorStream, FileWrapper, InputStream } from "./mod.ts";

const EMPTY = new Uint8Array(0);

/**
 * The client is gone: an upload broke off, or the connection closed before
 * the response started. Not the application's fault, so logged in one line.
 */
export class ClientGone extends Error {}

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

  /** No request: an input that is at its end from the start. */
  constructor(request: Request | null) {
    this.#request = request;
  }

  /** Deno.serve frames the body already; a Request built by hand may not. */
  limit(length: number): void {
    if (length >= 0) this.#left = length;
  }

  /** Makes sure something is buffered; false at the end of the body. */
  async #fill(): Promise<boolean> {
    if (this.#buffer.byteLength > 0) return true;
    this.#body ??= this.#request?.body ?? null;
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
    return this.#gather(size < 0 ? Infinity : size, false);
  }

  readline(size = -1): Promise<Uint8Array> {
    return this.#gather(size < 0 ? Infinity : size, true);
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
    for await (const line of this) {
      lines.push(line);
      length += line.byteLength;
      if (hint > 0 && length >= hint) break;
    }
    return lines;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (let line = await this.readline(); line.byteLength > 0;) {
      yield line;
      line = await this.readline();
    }
  }
}

/** The pieces as one array; no copy when there is only one. */
export function concat(
  pieces: Uint8Array[],
  length: number = pieces.reduce((n, piece) => n + piece.byteLength, 0),
): Uint8Array {
  if (pieces.length === 1) return pieces[0];
  const whole = new Uint8Array(length);
  let offset = 0;
  for (const piece of pieces) {
    whole.set(piece, offset);
    offset += piece.byteLength;
  }
  return whole;
}

export const encoder: TextEncoder = new TextEncoder();

/** How many bytes `text` takes in UTF-8, without encoding it. */
export function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) {
      length += 1;
    } else if (code < 0xdc00 && code >= 0xd800 && isLowSurrogate(text, i + 1)) {
      i++; // A surrogate pair: two UTF-16 units, four bytes.
      length += 2;
    } else {
      length += 2; // The rest of the BMP, or a lone surrogate sent as U+FFFD.
    }
  }
  return length;
}

function isLowSurrogate(text: string, i: number): boolean {
  const code = text.charCodeAt(i);
  return code >= 0xdc00 && code < 0xe000;
}

/**
 * Writes all of `text` at once, so lines keep their order across stdout and
 * stderr (a stalled pipe stalls the writer: the README says so).
 */
export function writeText(
  to: { writeSync(bytes: Uint8Array): number },
  text: string,
): void {
  const bytes = encoder.encode(text);
  for (let sent = 0; sent < bytes.byteLength;) {
    sent += to.writeSync(bytes.subarray(sent));
  }
}

/** `wsgi.errors` by default: the process's standard error. */
export const standardError: ErrorStream = {
  write(text) {
    writeText(Deno.stderr, text);
  },
  writelines(lines) {
    for (const line of lines) this.write(line);
  },
  flush() {},
};

/**
 * `wsgi.file_wrapper`: the file's own stream, pulled as the client reads.
 * Deno closes a file whose stream ends or is cancelled; `close()` covers a
 * body that is never read (HEAD, an error before the first chunk).
 */
export const fileWrapper: FileWrapper = (file) => ({
  async *[Symbol.asyncIterator]() {
    yield* file.readable;
  },
  close() {
    try {
      file.close?.();
    } catch {
      // Already closed with its stream.
    }
  },
});
