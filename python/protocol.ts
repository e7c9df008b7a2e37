/**
 * The messages between the main thread (`python/pool.ts`) and one
 * interpreter's worker thread (`python/worker.ts`). One request at a time
 * per worker, so no message carries a request id.
 *
 * @module
 */

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
  /** Pyodide's interrupt buffer: 2 raises KeyboardInterrupt. */
  interrupt: SharedArrayBuffer;
}

/** A request for the loaded application. */
export interface CallMessage {
  t: "call";
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
  | { t: "input"; data: Uint8Array | null; error?: string }
  /** The client took the chunk that asked for an ack: go on. */
  | { t: "ack" }
  /** The client is gone: stop the body. */
  | { t: "cancel" }
  /** The deadline passed: wake whatever waits; the buffer does the rest. */
  | { t: "interrupt" }
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
