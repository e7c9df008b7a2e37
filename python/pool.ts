/**
 * The interpreters of one process, seen from the main thread: K worker
 * threads, each one Pyodide serving one request at a time, and a bounded
 * queue of the requests waiting for one. The main thread only passes
 * messages: it never runs Python, so it keeps serving static files,
 * TypeScript routes, limits, timeouts and the log while Python computes.
 *
 * @module
 */

import type { Application, Body, Chunk, Environ } from "../types.ts";
import { PythonException } from "./exception.ts";
import type {
  FromWorker,
  Head,
  LoadMessage,
  Piece,
  Start,
  ToWorker,
} from "./protocol.ts";

type StartResponse = Parameters<Application>[1];

/** What the workers load, and how many requests may wait for one. */
export interface PoolSettings {
  threads: number;
  queue: number;
  load: Omit<LoadMessage, "t" | "interrupt">;
}

/** Why the interpreters could not load the application. */
export class LoadFailure extends Error {
  constructor(message: string, readonly traceback?: string) {
    super(message);
  }
}

/** One interpreter: a worker thread, its interrupt buffer, its request. */
class Interpreter {
  readonly worker: Worker;
  readonly interrupt = new Int32Array(new SharedArrayBuffer(4));
  exchange?: Exchange;
  dead = false;
  /** Takes the worker's answer to a reload, while one is under way. */
  reply?: (message: FromWorker) => void;
  /** What runs once the request in progress is over (a reload). */
  next?: () => void;

  constructor(onMessage: (message: FromWorker) => void) {
    this.worker = new Worker(new URL("./worker.ts", import.meta.url), {
      type: "module",
    });
    this.worker.onmessage = (event) => onMessage(event.data);
  }

  post(message: ToWorker, transfer: Transferable[] = []): void {
    if (!this.dead) this.worker.postMessage(message, transfer);
  }
}

/** A request waiting for an interpreter. */
interface Waiter {
  start(interpreter: Interpreter): void;
}

/** The interpreters of this process and the requests waiting for them. */
export class Pool {
  readonly #all: Interpreter[] = [];
  readonly #idle: Interpreter[] = [];
  readonly #waiting: Waiter[] = [];
  readonly #queue: number;
  readonly version: string;
  readonly startup: number;

  private constructor(
    all: Interpreter[],
    queue: number,
    version: string,
    startup: number,
  ) {
    this.#all = all;
    this.#idle = [...all];
    this.#queue = queue;
    this.version = version;
    this.startup = startup;
  }

  /** Starts the interpreters, all at once; throws the first load failure. */
  static async start(settings: PoolSettings): Promise<Pool> {
    const all: Interpreter[] = [];
    const loads: Promise<{ version: string; startup: number }>[] = [];
    for (let i = 0; i < settings.threads; i++) {
      let settle!: (message: FromWorker) => void;
      const loaded = new Promise<{ version: string; startup: number }>(
        (resolve, reject) => {
          settle = (message) => {
            if (message.t === "ready") resolve(message);
            else if (message.t === "failed") {
              reject(
                message.name === "PythonException"
                  ? new PythonException(message.traceback!, message.message)
                  : new LoadFailure(message.message),
              );
            }
          };
        },
      );
      const interpreter: Interpreter = new Interpreter((message) =>
        interpreter.reply
          ? interpreter.reply(message)
          : interpreter.exchange
          ? interpreter.exchange.receive(message)
          : settle(message)
      );
      interpreter.worker.onerror = (event) => {
        event.preventDefault();
        interpreter.dead = true;
        const failure = new Error(
          `a Python interpreter's thread failed: ${event.message}`,
        );
        settle({ t: "failed", message: failure.message });
        interpreter.exchange?.fail(failure);
      };
      interpreter.post({
        t: "load",
        ...settings.load,
        interrupt: interpreter.interrupt.buffer as SharedArrayBuffer,
      });
      all.push(interpreter);
      loads.push(loaded);
    }
    try {
      const ready = await Promise.all(loads);
      const startup = Math.max(...ready.map((r) => r.startup));
      return new Pool(all, settings.queue, ready[0].version, startup);
    } catch (error) {
      for (const interpreter of all) interpreter.worker.terminate();
      // The others' rejections are the same failure, told once.
      for (const load of loads) load.catch(() => {});
      throw error;
    }
  }

  /** How many interpreters this pool runs. */
  get size(): number {
    return this.#all.length;
  }

  /** The pool as a WSGI application: a request, on the next free interpreter. */
  readonly app: Application = (environ, startResponse) => {
    const interpreter = this.#idle.pop();
    if (interpreter) return this.#run(interpreter, environ, startResponse);
    if (this.#waiting.length >= this.#queue || this.#all.length === 0) {
      return this.#full(environ, startResponse);
    }
    return new Promise<Body>((resolve, reject) => {
      let signal: AbortSignal | undefined;
      const waiter: Waiter = {
        start: (interpreter) => {
          clearTimeout(watch);
          signal?.removeEventListener("abort", leave);
          this.#run(interpreter, environ, startResponse).then(resolve, reject);
        },
      };
      const leave = () => {
        const at = this.#waiting.indexOf(waiter);
        if (at !== -1) this.#waiting.splice(at, 1);
        resolve([]);
      };
      const watch = setTimeout(() => {
        signal = watched(environ, leave);
      }, WATCH_AFTER);
      this.#waiting.push(waiter);
    });
  };

  /**
   * Loads the application again from its files in every interpreter, each
   * once its request in progress is over; resolves to the milliseconds the
   * slowest took, or rejects with why the new code did not load (the
   * interpreters keep the last application that did).
   */
  async reload(): Promise<number> {
    const took = await Promise.all(
      this.#all.map((interpreter) => this.#reload(interpreter)),
    );
    return Math.max(...took);
  }

  #reload(interpreter: Interpreter): Promise<number> {
    return new Promise((resolve, reject) => {
      const go = () => {
        interpreter.reply = (message) => {
          interpreter.reply = undefined;
          this.#release(interpreter);
          if (message.t === "reloaded") resolve(message.ms);
          else if (message.t === "failed") {
            reject(
              message.name === "PythonException"
                ? new PythonException(message.traceback!, message.message)
                : new LoadFailure(message.message),
            );
          }
        };
        interpreter.post({ t: "reload" });
      };
      const idle = this.#idle.indexOf(interpreter);
      if (idle !== -1) {
        this.#idle.splice(idle, 1);
        go();
      } else interpreter.next = go;
    });
  }

  /** Ends every interpreter; requests still waiting get a 503. */
  close(): void {
    for (const interpreter of this.#all) {
      interpreter.dead = true;
      interpreter.worker.terminate();
      interpreter.exchange?.fail(new Error("the Python interpreters closed"));
    }
    this.#all.length = 0;
    this.#idle.length = 0;
  }

  #run(
    interpreter: Interpreter,
    environ: Environ,
    startResponse: StartResponse,
  ): Promise<Body> {
    return new Promise<Body>((resolve, reject) => {
      const exchange = new Exchange(
        interpreter,
        environ,
        startResponse,
        resolve,
        reject,
        () => this.#release(interpreter),
      );
      interpreter.exchange = exchange;
      exchange.begin();
    });
  }

  #release(interpreter: Interpreter): void {
    interpreter.exchange = undefined;
    if (interpreter.dead) return;
    const next = interpreter.next;
    if (next) {
      interpreter.next = undefined;
      return next();
    }
    const waiter = this.#waiting.shift();
    if (waiter) waiter.start(interpreter);
    else this.#idle.push(interpreter);
  }

  #full(environ: Environ, startResponse: StartResponse): Body {
    const { REQUEST_METHOD, REQUEST_URI } = environ;
    const why = this.#all.length === 0
      ? "no Python interpreter is running"
      : `${this.#waiting.length} requests already wait for the ${this.#all.length} Python interpreter(s) (queue limit ${this.#queue})`;
    environ["wsgi.errors"].write(
      `[wsgi] ${REQUEST_METHOD} ${REQUEST_URI}: ${why}; answered 503\n`,
    );
    startResponse("503 Service Unavailable", [
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Retry-After", "1"],
    ]);
    return ["The server is busy; try again in a moment.\n"];
  }
}

/**
 * How long a request runs before its `deno.signal` is watched (ms). The
 * signal costs an AbortController and Deno's own request signal, so a
 * request answered sooner never makes it; every deadline is longer.
 */
const WATCH_AFTER = 50;

/** Calls `onAbort` when the request's deadline passes or its client goes. */
function watched(
  environ: Environ,
  onAbort: () => void,
): AbortSignal | undefined {
  const signal = environ["deno.signal"] as AbortSignal | undefined;
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  return signal;
}

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

/** One request on one interpreter, from the call to Python's end. */
class Exchange {
  #answered = false;
  #ended = false;
  #error?: Error;
  #items: Item[] = [];
  #wake?: () => void;
  #signal?: AbortSignal;
  #watch?: ReturnType<typeof setTimeout>;
  #expired = false;

  constructor(
    readonly interpreter: Interpreter,
    readonly environ: Environ,
    readonly startResponse: StartResponse,
    readonly resolve: (body: Body) => void,
    readonly reject: (error: unknown) => void,
    readonly release: () => void,
  ) {}

  begin(): void {
    const { environ } = this;
    const strings: string[] = [];
    let nul = false;
    for (const key in environ) {
      const value = environ[key];
      if (typeof value === "string") {
        strings.push(key, value);
        nul ||= value.includes("\0");
      }
    }
    const pairs = nul ? strings : strings.join("\0");
    // Deno gives GET and HEAD no body; anything else may be chunked.
    const { REQUEST_METHOD: method, CONTENT_LENGTH: declared } = environ;
    const hasBody = declared === undefined
      ? method !== "GET" && method !== "HEAD"
      : Number(declared) > 0;
    const multiprocess = environ["wsgi.multiprocess"] === true;
    this.interpreter.post({ t: "call", pairs, hasBody, multiprocess });
    this.#watch = setTimeout(() => {
      this.#signal = watched(environ, this.#abort);
    }, WATCH_AFTER);
  }

  /** The deadline passed, or the client left: stop Python. */
  #abort = () => {
    if (this.#ended) return;
    if (this.#answered) {
      this.#cancel();
      return;
    }
    this.#expired = true;
    // KeyboardInterrupt at Python's next instruction; a wait is woken.
    Atomics.store(this.interpreter.interrupt, 0, 2);
    this.interpreter.post({ t: "interrupt" });
  };

  #cancel(): void {
    if (!this.#ended) this.interpreter.post({ t: "cancel" });
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
    this.environ["wsgi.input"].read(n).then(
      (data) =>
        this.interpreter.post(
          { t: "input", data: data.byteLength ? data : null },
          data.byteOffset === 0 && data.buffer.byteLength === data.byteLength
            ? [data.buffer as ArrayBuffer]
            : [],
        ),
      (error) =>
        this.interpreter.post({
          t: "input",
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
    this.#answered = true;
    try {
      for (const [status, headers, excInfo] of starts(head)) {
        this.startResponse(
          status as string,
          headers as [string, string][],
          excInfo ?? undefined,
        );
      }
    } catch (error) {
      this.reject(error);
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

  /** wsgi.file_wrapper of a real file: the gateway sends it. */
  async #file(path: string, offset: number): Promise<Body> {
    const file = await Deno.open(path);
    if (offset) await file.seek(offset, Deno.SeekMode.Start);
    return this.environ["wsgi.file_wrapper"]!(file);
  }

  #finish(_: undefined, error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    clearTimeout(this.#watch);
    this.#signal?.removeEventListener("abort", this.#abort);
    if (!this.#answered) {
      this.#answered = true;
      this.reject(error ?? new Error("Python gave no answer"));
    }
    if (this.#expired && error) {
      const { REQUEST_METHOD, REQUEST_URI } = this.environ;
      this.environ["wsgi.errors"].write(
        `[wsgi] ${REQUEST_METHOD} ${REQUEST_URI}: the Python interpreter was interrupted past the deadline (${
          error.message.split("\n")[0]
        }); it serves the next request\n`,
      );
    }
    this.#wake?.();
    this.release();
  }

  #stream(): Body {
    const next = async (): Promise<IteratorResult<Chunk>> => {
      while (true) {
        const item = this.#items.shift();
        if (item) {
          if (item.ack) this.interpreter.post({ t: "ack" });
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
