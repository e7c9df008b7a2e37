/**
 * The interpreters of one process, seen from the main thread: K worker
 * threads, each one Pyodide serving one request at a time, and a bounded
 * queue of the requests waiting for one. The main thread only passes
 * messages: it never runs Python, so it keeps serving static files,
 * TypeScript routes, limits, timeouts and the log while Python computes.
 *
 * A busy interpreter is sent requests ahead, up to three behind the one
 * Python runs (they wait in the worker's own queue), so Python begins the
 * next the moment one ends, instead of idling while that answer and the
 * next call cross between threads (a crossing that wakes a sleeping thread
 * costs about 25 µs here). A request sent ahead still counts against the
 * queue's bound, and an interpreter that falls idle takes one back from a
 * busy one before Python begins it.
 *
 * @module
 */

import type { Application, Body, Environ, StartResponse } from "../types.ts";
import { Clock, type Due } from "../gateway/clock.ts";
import { requestLine } from "../gateway/errors.ts";
import { PythonException } from "./exception.ts";
import { Exchange, type Link, WATCH_TICK } from "./exchange.ts";
import {
  DEPTH,
  FLAG,
  type FromWorker,
  GIVEN_UP,
  type LoadMessage,
  locked,
  NOT_BEGUN,
  PENDING,
  RUNNING,
  sharedWords,
  SUSPENDED,
  type ToWorker,
} from "./protocol.ts";

/** What the workers load, and how many requests may wait for one. */
export interface PoolSettings {
  threads: number;
  queue: number;
  load: Omit<LoadMessage, "t" | "shared">;
}

/** Why the interpreters could not load the application. */
export class LoadFailure extends Error {
  constructor(message: string, readonly traceback?: string) {
    super(message);
  }
}

/** One interpreter: a worker thread, the words it shares, its requests. */
class Interpreter implements Link {
  readonly worker: Worker;
  readonly shared = sharedWords();
  /** The requests sent to it, in order: the first is Python's, now or next. */
  readonly exchanges: Exchange[] = [];
  #seq = 0;
  dead = false;
  /** A `withdraw` is under way: send nothing more ahead. */
  withdrawing = false;
  /** Takes the worker's answer to a reload, while one is under way. */
  reply?: (message: FromWorker) => void;
  /** What runs once the requests sent are over (a reload). */
  next?: () => void;

  constructor(onMessage: (message: FromWorker) => void) {
    this.worker = new Worker(new URL("./worker.ts", import.meta.url), {
      type: "module",
    });
    this.worker.onmessage = (event) => onMessage(event.data);
  }

  /** Whether it takes a request now: none held, or one and a place ahead. */
  takes(ahead: boolean): boolean {
    if (this.dead || this.next || this.reply) return false;
    const held = this.exchanges.length;
    return held === 0 ||
      (ahead && held < DEPTH && !this.withdrawing);
  }

  send(exchange: Exchange): void {
    let slot = 0;
    while (this.exchanges.some((held) => held.slot === slot)) slot++;
    this.exchanges.push(exchange);
    exchange.send(this, ++this.#seq, slot);
  }

  post(message: ToWorker, transfer: Transferable[] = []): void {
    if (!this.dead) this.worker.postMessage(message, transfer);
  }

  interrupt(seq: number, slot: number): void {
    const { shared } = this;
    locked(shared, () => {
      if (Atomics.load(shared, RUNNING) !== seq) {
        // Not begun (or over: then no request of this number comes again).
        Atomics.store(shared, GIVEN_UP + slot, seq);
      } else if (Atomics.load(shared, SUSPENDED)) {
        // It waits: told as it comes back (the message wakes it sooner).
        Atomics.store(shared, PENDING, seq);
      } else Atomics.store(shared, FLAG, 2);
    });
  }
}

/** The interpreters of this process and the requests waiting for them. */
export class Pool {
  readonly #all: Interpreter[] = [];
  /** Requests waiting for an interpreter, in order. */
  readonly #waiting: Exchange[] = [];
  readonly #queue: number;
  /** Looks at the requests in flight: no timer per request. */
  readonly #clock = new Clock([WATCH_TICK * 10 / 1000]);
  readonly #refusals = new Refusals(this.#clock);
  readonly version: string;
  readonly startup: number;

  private constructor(
    all: Interpreter[],
    queue: number,
    version: string,
    startup: number,
  ) {
    this.#all = all;
    this.#queue = queue;
    this.version = version;
    this.startup = startup;
  }

  /** Starts the interpreters, all at once; throws the first load failure. */
  static async start(settings: PoolSettings): Promise<Pool> {
    const all: Interpreter[] = [];
    const loads: Promise<{ version: string; startup: number }>[] = [];
    let pool: Pool | undefined;
    for (let i = 0; i < settings.threads; i++) {
      let settle!: (message: FromWorker) => void;
      const loaded = new Promise<{ version: string; startup: number }>(
        (resolve, reject) => {
          settle = (message) => {
            if (message.t === "ready") resolve(message);
            else if (message.t === "failed") reject(loadError(message));
          };
        },
      );
      const interpreter: Interpreter = new Interpreter((message) => {
        if (message.t === "withdrawn") pool!.#withdrawn(interpreter, message);
        else if (interpreter.reply) interpreter.reply(message);
        else if (interpreter.exchanges.length) {
          pool!.#receive(interpreter, message);
        } else settle(message);
      });
      interpreter.worker.onerror = (event) => {
        event.preventDefault();
        interpreter.dead = true;
        const failure = new Error(
          `a Python interpreter's thread failed: ${event.message}`,
        );
        settle({ t: "failed", message: failure.message });
        // A reload waiting or under way ends too: the next one waits for it.
        const next = interpreter.next;
        interpreter.next = undefined;
        next?.();
        interpreter.reply?.({ t: "failed", message: failure.message });
        for (const exchange of interpreter.exchanges.splice(0)) {
          exchange.fail(failure);
        }
      };
      interpreter.post({
        t: "load",
        ...settings.load,
        shared: interpreter.shared.buffer as SharedArrayBuffer,
      });
      all.push(interpreter);
      loads.push(loaded);
    }
    try {
      const ready = await Promise.all(loads);
      const startup = Math.max(...ready.map((r) => r.startup));
      return pool = new Pool(all, settings.queue, ready[0].version, startup);
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
    const queued = this.#queued();
    if (this.#all.length === 0 || queued >= this.#queue && !this.#idle()) {
      return this.#full(environ, startResponse, queued);
    }
    return new Promise<Body>((resolve, reject) => {
      const exchange = new Exchange(
        environ,
        startResponse,
        resolve,
        reject,
        this.#leave,
        this.#clock,
      );
      if (!this.#place(exchange, queued < this.#queue)) {
        this.#waiting.push(exchange);
      }
    });
  };

  /** A request's client left, or its deadline passed, while it waited. */
  #leave = (exchange: Exchange): void => {
    const at = this.#waiting.indexOf(exchange);
    if (at !== -1) this.#waiting.splice(at, 1);
  };

  /**
   * Sends `exchange` to an idle interpreter, or, when `ahead`, one ahead to
   * the least busy; false when none takes it.
   */
  #place(exchange: Exchange, ahead: boolean): boolean {
    let best: Interpreter | undefined;
    for (const interpreter of this.#all) {
      if (!interpreter.takes(ahead)) continue;
      if (!best || interpreter.exchanges.length < best.exchanges.length) {
        best = interpreter;
      }
    }
    best?.send(exchange);
    return best !== undefined;
  }

  #idle(): boolean {
    return this.#all.some((interpreter) => interpreter.takes(false));
  }

  /** Requests that wait: in the queue, or sent ahead and not yet begun. */
  #queued(): number {
    let ahead = 0;
    for (const { exchanges } of this.#all) {
      ahead += Math.max(0, exchanges.length - 1);
    }
    return this.#waiting.length + ahead;
  }

  /** The worker's messages are for its first request, in order. */
  #receive(interpreter: Interpreter, message: FromWorker): void {
    interpreter.exchanges[0].receive(message);
    if (message.t !== "end") return;
    interpreter.exchanges.shift();
    this.#release(interpreter);
  }

  #release(interpreter: Interpreter): void {
    if (interpreter.dead) return;
    const next = interpreter.next;
    if (next && interpreter.exchanges.length === 0) {
      interpreter.next = undefined;
      return next();
    }
    while (this.#waiting.length && interpreter.takes(true)) {
      interpreter.send(this.#waiting.shift()!);
    }
    if (interpreter.exchanges.length === 0) this.#steal(interpreter);
  }

  /** An idle interpreter asks a busy one for a request not begun. */
  #steal(idle: Interpreter): void {
    if (!idle.takes(false)) return;
    let busy: Interpreter | undefined;
    for (const interpreter of this.#all) {
      if (interpreter.withdrawing || interpreter.dead) continue;
      const held = interpreter.exchanges.length;
      if (held > Math.max(1, busy?.exchanges.length ?? 0)) busy = interpreter;
    }
    if (!busy) return;
    busy.withdrawing = true;
    busy.post({ t: "withdraw" });
  }

  #withdrawn(
    interpreter: Interpreter,
    { taken }: FromWorker & { t: "withdrawn" },
  ): void {
    interpreter.withdrawing = false;
    const exchange = taken ? interpreter.exchanges.pop() : undefined;
    if (exchange?.ended) exchange.fail(new Error(NOT_BEGUN));
    else if (
      exchange && !this.#place(exchange, false) && !this.#place(exchange, true)
    ) {
      // Every interpreter is full, or waits to reload: first in the queue.
      this.#waiting.unshift(exchange);
    }
    // Sending ahead to it was held back while the answer came.
    if (!interpreter.dead) this.#release(interpreter);
  }

  /**
   * Loads the application again from its files in every interpreter, each
   * once the requests sent to it are over; resolves to the milliseconds the
   * slowest took, or rejects with why the new code did not load (the
   * interpreters keep the last application that did).
   */
  reload(): Promise<number> {
    // One at a time: a save during a reload waits for it, then loads again.
    const after = this.#reloading.catch(() => {});
    const reloading = after.then(async () => {
      const took = await Promise.all(
        this.#all.map((interpreter) => this.#reload(interpreter)),
      );
      return Math.max(...took);
    });
    this.#reloading = reloading;
    return reloading;
  }

  /** The last reload asked for, settled or not. */
  #reloading: Promise<unknown> = Promise.resolve();

  #reload(interpreter: Interpreter): Promise<number> {
    return new Promise((resolve, reject) => {
      const go = () => {
        interpreter.reply = (message) => {
          interpreter.reply = undefined;
          this.#release(interpreter);
          if (message.t === "reloaded") resolve(message.ms);
          else if (message.t === "failed") reject(loadError(message));
        };
        interpreter.post({ t: "reload" });
      };
      if (interpreter.exchanges.length === 0) go();
      else interpreter.next = go;
    });
  }

  /** Ends every interpreter; requests still waiting get a 503. */
  close(): void {
    this.#refusals.flush();
    const closed = new Error("the Python interpreters closed");
    for (const interpreter of this.#all) {
      interpreter.dead = true;
      interpreter.worker.terminate();
      for (const exchange of interpreter.exchanges.splice(0)) {
        exchange.fail(closed);
      }
    }
    for (const exchange of this.#waiting.splice(0)) exchange.fail(closed);
    this.#all.length = 0;
  }

  #full(
    environ: Environ,
    startResponse: StartResponse,
    queued: number,
  ): Body {
    const closed = this.#all.length === 0;
    const why = closed
      ? "no Python interpreter is running"
      : `${queued} requests already wait for the ${this.#all.length} Python interpreter(s) (queue limit ${this.#queue})`;
    const line = requestLine(environ, `${why}; answered 503`);
    // A pool closed is said each time: it happens once, not as a flood.
    if (closed) environ["wsgi.errors"].write(line);
    else this.#refusals.say(environ["wsgi.errors"], line);
    startResponse("503 Service Unavailable", [
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Retry-After", "1"],
    ]);
    return ["The server is busy; try again in a moment.\n"];
  }
}

/** A failed load or reload, as the worker told it. */
function loadError(message: FromWorker & { t: "failed" }): Error {
  return message.name === "PythonException"
    ? new PythonException(message.traceback!, message.message)
    : new LoadFailure(message.message);
}

/**
 * The lines of a full queue's 503s: under a flood, the first of each second
 * is written and the others counted, said in one line when the second is
 * over (a client hammering a full queue wrote 64,000 lines in 3 s).
 */
class Refusals implements Due {
  clockIndex = -1;
  #clock: Clock;
  #saidAt = -Infinity;
  #unsaid = 0;
  #errors?: Environ["wsgi.errors"];

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  say(errors: Environ["wsgi.errors"], line: string): void {
    const now = this.#clock.now;
    if (now - this.#saidAt < 1000) {
      this.#unsaid++;
      this.#errors = errors;
      this.#clock.add(this);
      return;
    }
    this.#saidAt = now;
    errors.write(line);
  }

  tick(now: number): boolean {
    if (now - this.#saidAt < 1000) return true;
    this.flush();
    return false;
  }

  /** Says how many 503s went unsaid, if any. */
  flush(): void {
    this.#clock.delete(this);
    if (this.#unsaid === 0) return;
    this.#errors!.write(
      `[wsgi] ${this.#unsaid} more requests answered 503 in the last second: the Python queue was full\n`,
    );
    this.#unsaid = 0;
  }
}
