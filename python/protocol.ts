/**
 * The messages between the main thread (`python/pool.ts`) and one
 * interpreter's worker thread (`python/worker.ts`), and the words they
 * share. Python runs one request at a time, in the order they were sent;
 * the worker answers in that order, so its messages need no request
 * number, while the main thread's name the request they are for: one that
 * ended, or one not begun, must not take what was meant for another.
 *
 * @module
 */

/**
 * The defaults of `loadPythonApp` and the command line, written once. The
 * queue is long enough for a browser's worth of clients per interpreter to
 * wait rather than be refused: with 100, 300 clients that send again at
 * once made a loop of 503s (53,000 a second) that left the interpreter
 * 1,350 answers a second instead of 12,000 with 1000.
 */
export const PYTHON_DEFAULTS = { threads: 1, queue: 1000 } as const;

/** What the worker needs to start Pyodide and load the application. */
export interface LoadMessage {
  t: "load";
  /** `file`: a `.py` path; `module`: a dotted name importable from sysPath. */
  kind: "file" | "module";
  target: string;
  callable: string;
  /** How errors name the application: the file or the module. */
  label: string;
  /** Host folders shown at their own paths in Pyodide's file system. */
  mounts: string[];
  /** `sys.path`, in order, after Pyodide's own entries. */
  sysPath: string[];
  /** Python's working folder. */
  cwd: string;
  /** `os.environ`, or undefined to keep Pyodide's own. */
  environment?: Record<string, string>;
  multiprocess: boolean;
  /** The words both threads see: {@linkcode FLAG}, {@linkcode RUNNING}, {@linkcode LOCK}. */
  shared: SharedArrayBuffer;
}

/** Pyodide's interrupt buffer: 2 (SIGINT) raises KeyboardInterrupt. */
export const FLAG = 0;
/** The number of the request Python runs; 0 between requests. */
export const RUNNING = 1;
/** Held while either thread reads or writes the other words. */
export const LOCK = 2;
/**
 * 1 while Python waits (suspended in `run_sync`), until it is back in its
 * own code: the flag is never raised then, for Python would take it inside
 * Pyodide's promise machinery as it resumes, which does not recover.
 */
export const SUSPENDED = 3;
/** The request (its number) to stop as it comes back from its wait. */
export const PENDING = 4;
/**
 * The first of {@linkcode DEPTH} words, one per place a request holds on
 * its interpreter: the number of the request given up there before Python
 * began it. The worker looks at it, under the lock, as it begins a request:
 * a message saying so may still wait behind the request it would stop.
 */
export const GIVEN_UP = 5;
/** Requests an interpreter holds at once: the one Python runs, three ahead. */
export const DEPTH = 4;

/** The end's error for a request given up before Python began it. */
export const NOT_BEGUN = "not begun";

/** The shared words. */
export function sharedWords(): Int32Array {
  return new Int32Array(new SharedArrayBuffer((GIVEN_UP + DEPTH) * 4));
}

/**
 * Runs `inside` holding the lock. Each side holds it for two stores at
 * most, so the other spins for no longer than that: no interrupt meant for
 * one request can land in the next.
 */
export function locked(shared: Int32Array, inside: () => void): void {
  while (Atomics.compareExchange(shared, LOCK, 0, 1) !== 0) {
    // The other thread is between two stores.
  }
  try {
    inside();
  } finally {
    Atomics.store(shared, LOCK, 0);
  }
}

/** A request for the loaded application. */
export interface CallMessage {
  t: "call";
  /** The request's number on this interpreter, from 1. */
  seq: number;
  /** Its place on the interpreter, from 0 to DEPTH - 1: its GIVEN_UP word. */
  slot: number;
  /**
   * Every string key of the environ and its value, flattened: key, value,
   * …; joined by NULs into one string when no value holds a NUL.
   */
  pairs: string | string[];
  hasBody: boolean;
  /** The gateway's `wsgi.multiprocess`. */
  multiprocess: boolean;
}

/** The main thread to the worker. */
export type ToWorker =
  | LoadMessage
  | CallMessage
  /** The bytes asked for, `null` at the end, or why they cannot come. */
  | { t: "input"; seq: number; data: Uint8Array | null; error?: string }
  /** The client took the chunk that asked for an ack: go on. */
  | { t: "ack"; seq: number }
  /** The client is gone: stop the body. */
  | { t: "cancel"; seq: number }
  /**
   * The deadline passed or the client left: wake whatever the request
   * waits for (the flag does the rest; a request not begun has its
   * given-up word already).
   */
  | { t: "interrupt"; seq: number }
  /** Another interpreter is free: give back the last request not begun. */
  | { t: "withdraw" }
  /** The app's files changed: load it again, in this interpreter. */
  | { t: "reload" };

/** One `start_response` call: status, headers, exc_info's repr. */
export type Start = [unknown, unknown, string | null | undefined];

/**
 * The `start_response` calls before the first chunk; one call of strings
 * comes as one string: status, name, value, …, joined by NULs.
 */
export type Head = Start[] | string;

/** A chunk, or a real file the gateway sends itself. */
export type Piece = Uint8Array | string | { file: string; offset: number };

/** The worker to the main thread. */
export type FromWorker =
  | { t: "ready"; version: string; startup: number }
  /** The app loaded again (`reload`), in `ms`. */
  | { t: "reloaded"; ms: number }
  | { t: "failed"; message: string; traceback?: string; name?: string }
  /** The answer to `withdraw`: whether a request came back. */
  | { t: "withdrawn"; taken: boolean }
  | { t: "read"; n: number }
  | { t: "log"; text: string }
  /** A chunk as Python yielded it; `ack` asks to be told when it is taken. */
  | { t: "chunk"; head: Head | undefined; chunk: Piece; ack: boolean }
  /** Python is done: the last chunks (a list body), or its traceback. */
  | {
    t: "end";
    head: Head | undefined;
    chunks: Piece[] | undefined;
    error: string | undefined;
  };
