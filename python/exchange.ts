/**
 * One request to Python, seen from the main thread: the call sent to an
 * interpreter, the messages its worker sends back (reads of `wsgi.input`,
 * chunks, the end), replayed on the gateway's `startResponse` and body;
 * the client's departure and the deadline, told to the worker.
 *
 * @module
 */

import type { Body, Chunk, Environ, StartResponse } from "../types.ts";
import type { Clock, Due } from "../gateway/clock.ts";
import { stringPairs } from "../gateway/environ.ts";
import { requestLine } from "../gateway/errors.ts";
import { ClientGone } from "../gateway/input.ts";
import { PythonException } from "./exception.ts";
import {
  type FromWorker,
  type Head,
  NOT_BEGUN,
  type Piece,
  type Start,
  type ToWorker,
} from "./protocol.ts";

/**
 * How often the pool's clock looks at its requests (ms). A request is
 * watched (its `deno.signal`: an AbortController and Deno's own request
 * signal) from the clock's second look on, between one and two ticks after
 * it came, so a request answered sooner never makes one; every deadline is
 * longer.
 */
export const WATCH_TICK = 50;

/** The start_response calls, from the one string of the common case. */
function starts(head: Head | undefined): Start[] {
  if (typeof head !== "string") return head ?? [];
  const [status, ...flat] = head.split("\0");
  const headers: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) headers.push([flat[i], flat[i + 1]]);
  return [[status, headers, undefined]];
}

/** A chunk that came, and whether the worker waits to hear it was taken. */
interface Item {
  piece: Piece;
  ack: boolean;
}

/** The interpreter a request was sent to, as the request sees it. */
export interface Link {
  post(message: ToWorker, transfer?: Transferable[]): void;
  /**
   * Raises KeyboardInterrupt in request `seq` if Python runs it now, else
   * marks it, at its `slot`, never to begin.
   */
  interrupt(seq: number, slot: number): void;
}

/**
 * One request, from the call sent to an interpreter to Python's end. It
 * may be sent again, to another interpreter, until Python begins it.
 */
export class Exchange implements Due {
  clockIndex = -1;
  #answered = false;
  #ended = false;
  #error?: Error;
  #items: Item[] = [];
  #wake?: () => void;
  #signal?: AbortSignal;
  #looks = 0;
  #expired = false;
  /** Given up at its deadline (else its client left). */
  #late = false;
  /** Where the request was sent; none while it waits in the pool's queue. */
  #link?: Link;
  #seq = 0;
  #slot = -1;
  #clock: Clock;

  constructor(
    readonly environ: Environ,
    readonly startResponse: StartResponse,
    readonly resolve: (body: Body) => void,
    readonly reject: (error: unknown) => void,
    /** Takes the request out of the pool's queue: it is gone. */
    readonly leave: (exchange: Exchange) => void,
    /** The pool's clock, which watches the request until it ends. */
    clock: Clock,
  ) {
    this.#clock = clock;
    clock.add(this);
  }

  /** Whether Python is done with the request, or need never begin it. */
  get ended(): boolean {
    return this.#ended || this.#expired;
  }

  /** Its place on the interpreter it was sent to. */
  get slot(): number {
    return this.#slot;
  }

  /** Sends the request to an interpreter, as its request number `seq`. */
  send(link: Link, seq: number, slot: number): void {
    this.#link = link;
    this.#seq = seq;
    this.#slot = slot;
    const { environ } = this;
    const strings = stringPairs(environ);
    // One string crosses cheaply; a NUL in a value would split it.
    const pairs = strings.some((value) => value.includes("\0"))
      ? strings
      : strings.join("\0");
    // Deno gives GET and HEAD no body; anything else may be chunked.
    const { REQUEST_METHOD: method, CONTENT_LENGTH: declared } = environ;
    const hasBody = declared === undefined
      ? method !== "GET" && method !== "HEAD"
      : Number(declared) > 0;
    const multiprocess = environ["wsgi.multiprocess"] === true;
    link.post({ t: "call", seq, slot, pairs, hasBody, multiprocess });
  }

  /** The clock's look: the request is watched from the second one on. */
  tick(): boolean {
    if (this.#ended) return false;
    if (++this.#looks < 2) return true;
    // Kept first: the abort reads why from it.
    const signal = this.#signal = this.environ["deno.signal"] as
      | AbortSignal
      | undefined;
    if (signal?.aborted) this.#abort();
    else signal?.addEventListener("abort", this.#abort, { once: true });
    return false;
  }

  /** The deadline passed, or the client left: stop Python. */
  #abort = () => {
    if (this.#ended) return;
    const reason = this.#signal?.reason as DOMException | undefined;
    this.#late = reason?.name === "TimeoutError";
    if (this.#link === undefined) {
      // Never sent: it leaves the queue, and nothing waits for its end.
      this.#ended = true;
      this.leave(this);
      this.reject(
        this.#givenUp("while it waited for a Python interpreter; it never ran"),
      );
      return;
    }
    if (this.#answered) {
      this.#cancel();
      return;
    }
    this.#expired = true;
    // KeyboardInterrupt at Python's next instruction; a wait is woken.
    this.#link.interrupt(this.#seq, this.#slot);
    this.#link.post({ t: "interrupt", seq: this.#seq });
  };

  #cancel(): void {
    if (!this.#ended) this.#link?.post({ t: "cancel", seq: this.#seq });
  }

  receive(message: FromWorker): void {
    switch (message.t) {
      case "read":
        this.#read(message.n);
        break;
      case "log":
        this.environ["wsgi.errors"].write(message.text);
        break;
      case "chunk":
        if (!this.#answered && !this.#answer(message.head, undefined)) return;
        this.#items.push({ piece: message.chunk, ack: message.ack });
        this.#wake?.();
        break;
      case "end":
        this.#end(message);
        break;
    }
  }

  /** Python's thread failed, or the pool closed. */
  fail(error: Error): void {
    this.#finish(undefined, error);
  }

  #read(n: number): void {
    const seq = this.#seq, link = this.#link!;
    this.environ["wsgi.input"].read(n).then(
      (data) =>
        link.post(
          { t: "input", seq, data: data.byteLength ? data : null },
          data.byteOffset === 0 && data.buffer.byteLength === data.byteLength
            ? [data.buffer as ArrayBuffer]
            : [],
        ),
      (error) =>
        link.post({
          t: "input",
          seq,
          data: null,
          error: error instanceof Error ? error.message : String(error),
        }),
    );
  }

  #end(message: FromWorker & { t: "end" }): void {
    const error = message.error === undefined
      ? undefined
      : new PythonException(message.error);
    if (!this.#answered) {
      if (error) {
        // What start_response was told before the error is replayed, as a
        // TypeScript app's calls would have been, for the trace to show.
        // Python's error is the request's; a rule a call broke is said too.
        // Past the deadline the 503 went long ago: nothing to show.
        const refused = this.#expired ? undefined : this.#replay(message.head);
        if (refused) this.#say(refused.message);
        this.#finish(undefined, error);
        return;
      }
      this.#answer(message.head, message.chunks ?? []);
    }
    for (const piece of message.chunks ?? []) {
      this.#items.push({ piece, ack: false });
    }
    this.#finish(undefined, error);
  }

  /**
   * The first output: the start_response calls, replayed on the gateway's
   * own, then the body. A list comes out whole; anything else streams.
   */
  #answer(head: Head | undefined, whole: Piece[] | undefined): boolean {
    const refused = this.#replay(head);
    this.#answered = true;
    if (refused) {
      this.reject(refused);
      this.#cancel();
      return false;
    }
    if (
      whole &&
      whole.every((piece) =>
        typeof piece !== "object" || piece instanceof Uint8Array
      )
    ) {
      this.resolve(whole as Chunk[]);
      this.#items = [];
      return true;
    }
    if (whole?.length === 1 && !(whole[0] instanceof Uint8Array)) {
      const { file, offset } = whole[0] as { file: string; offset: number };
      this.#file(file, offset).then(this.resolve, this.reject);
      return true;
    }
    this.resolve(this.#stream());
    return true;
  }

  /** The start_response calls, on the gateway's own: what a rule refused. */
  #replay(head: Head | undefined): Error | undefined {
    try {
      for (const [status, headers, excInfo] of starts(head)) {
        this.startResponse(
          status as string,
          headers as [string, string][],
          excInfo ?? undefined,
        );
      }
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  /** wsgi.file_wrapper of a real file: the gateway sends it. */
  async #file(path: string, offset: number): Promise<Body> {
    const file = await Deno.open(path);
    if (offset) await file.seek(offset, Deno.SeekMode.Start);
    return this.environ["wsgi.file_wrapper"]!(file);
  }

  #finish(_: undefined, error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    // Out of the clock at once: held until its next look, every request
    // of the last tick outlived a young-generation GC (measured: 13 MB
    // copied at each, a scavenge of 10 to 25 ms every 200 ms).
    this.#clock.delete(this);
    this.#error = error;
    this.#signal?.removeEventListener("abort", this.#abort);
    if (this.#expired && error) {
      const what = error.message === NOT_BEGUN
        ? "before Python began it; it never ran"
        : `and the Python interpreter was interrupted (${
          error.message.split("\n")[0]
        }); it serves the next request`;
      error = this.#givenUp(what);
    }
    if (!this.#answered) {
      this.#answered = true;
      this.reject(error ?? new Error("Python gave no answer"));
    }
    this.#wake?.();
  }

  /**
   * Why a request was given up, as one line: a client gone is the
   * gateway's to log (the error says it); past the deadline, the gateway
   * has answered and logged already, and this line says what became of
   * Python.
   */
  #givenUp(what: string): Error {
    const why = this.#late ? "its deadline passed" : "its client left";
    const line = `the request was given up (${why}) ${what}`;
    if (!this.#late) return new ClientGone(line);
    this.#say(line);
    return new Error(line);
  }

  /** One line in wsgi.errors about this request, as the gateway's are. */
  #say(line: string): void {
    this.environ["wsgi.errors"].write(requestLine(this.environ, line));
  }

  #stream(): Body {
    const next = async (): Promise<IteratorResult<Chunk>> => {
      while (true) {
        const item = this.#items.shift();
        if (item) {
          if (item.ack) this.#link!.post({ t: "ack", seq: this.#seq });
          const piece = item.piece;
          if (typeof piece === "object" && !(piece instanceof Uint8Array)) {
            // A real file after chunks written: its bytes, read here.
            const bytes = await Deno.readFile(piece.file);
            return { done: false, value: bytes.subarray(piece.offset) };
          }
          return { done: false, value: piece };
        }
        if (this.#ended) {
          if (this.#error) throw this.#error;
          return { done: true, value: undefined };
        }
        await new Promise<void>((wake) => this.#wake = wake);
        this.#wake = undefined;
      }
    };
    return {
      [Symbol.asyncIterator]: () => ({ next }),
      close: () => this.#cancel(),
    };
  }
}
