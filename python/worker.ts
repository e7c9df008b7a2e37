/**
 * One Python interpreter, in a worker thread of its own: Pyodide, the glue
 * (`python/glue.ts`), and the application, loaded once. It serves one
 * request at a time, in the order they came; the main thread may send the
 * next before this one ends, so Python begins it at once instead of idling
 * while the answer and the next call cross. While Python waits (a read of `wsgi.input`,
 * `time.sleep`, a client slower than the body), the WebAssembly stack is
 * suspended (JSPI) and this thread's event loop takes the main thread's
 * messages. The main thread never waits on it.
 *
 * @module
 */

import { loadPyodide, type PyodideInterface } from "pyodide";
import { installSqlite } from "./sqlite.ts";
import nodeFs from "node:fs";
import nodePath from "node:path";
import { GLUE, GLUE_FILE } from "./glue.ts";
import {
  type CallMessage,
  FLAG,
  type FromWorker,
  GIVEN_UP,
  type LoadMessage,
  locked,
  NOT_BEGUN,
  PENDING,
  type Piece,
  RUNNING,
  SUSPENDED,
  type ToWorker,
} from "./protocol.ts";

interface Scope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as Scope;

/**
 * Chunks this big or bigger are handed over (their buffer moves to the
 * main thread); smaller ones are copied, which costs less than a move.
 */
const HAND_OVER = 64 * 1024;

/** Posts `message`; `pieces` that are big and own their buffer move. */
function post(message: FromWorker, pieces: readonly Piece[] = []): void {
  const moved: Transferable[] = [];
  for (const piece of pieces) {
    if (
      piece instanceof Uint8Array && piece.byteLength >= HAND_OVER &&
      piece.byteOffset === 0 && piece.buffer instanceof ArrayBuffer &&
      piece.buffer.byteLength === piece.byteLength
    ) moved.push(piece.buffer);
  }
  scope.postMessage(message, moved);
}

/** Bytes sent without an ack, past which Python waits for the client. */
const WINDOW = 256 * 1024;

interface Glue {
  setup(host: unknown, environment: unknown, multiprocess: boolean): void;
  load(kind: string, target: string, name: string, label: string): unknown;
  reload(
    kind: string,
    target: string,
    name: string,
    label: string,
    root: string,
  ): unknown;
  handle: { callPromising(...args: unknown[]): Promise<unknown> };
  native_hint(name: string): string | undefined;
}

let pyodide: PyodideInterface;
let glue: Glue;
let shared: Int32Array;

/** The requests sent ahead, not begun, in order. */
const calls: CallMessage[] = [];
/** The number of the request Python runs; 0 between requests. */
let current = 0;

/** What the request in progress waits for, if anything. */
let waiting: ((value: unknown) => void) | undefined;
let waitingFor: "read" | "sleep" | "drain" | undefined;
let interrupted = false;
let cancelled = false;
let unacked = 0;
/** Whether the request in progress has sent its end. */
let ended = false;

function wait<T>(what: "read" | "drain"): Promise<T> {
  waitingFor = what;
  return new Promise<T>((resolve) => {
    waiting = resolve as (value: unknown) => void;
  });
}

function wake(value: unknown): void {
  const resolve = waiting;
  waiting = undefined;
  resolve?.(value);
}

/**
 * Whether the deadline passed, as Python begins a wait; else the wait is
 * marked, so the main thread raises no flag until Python is back. A wait is
 * never begun with the flag raised: Python would take the interrupt inside
 * Pyodide's own promise machinery, which does not recover, so the buffer is
 * cleared and the glue raises KeyboardInterrupt.
 */
function stopped(): boolean {
  locked(shared, () => {
    if (Atomics.load(shared, FLAG) !== 0) {
      Atomics.store(shared, FLAG, 0);
      interrupted = true;
    }
    if (!interrupted) Atomics.store(shared, SUSPENDED, 1);
  });
  return interrupted;
}

/** Gives back the last request sent ahead, if Python has not begun it. */
function withdraw(): void {
  const call = calls.pop();
  post({ t: "withdrawn", taken: call !== undefined });
}

/** Python begins the next request sent, if any. */
function next(): void {
  const call = calls.shift();
  if (call === undefined) return;
  // Given up while it waited: its word says so (written before the
  // message saying so, which may still wait behind this call). Else a flag
  // raised for the request before must not interrupt this one.
  let given = false;
  locked(shared, () => {
    given = Atomics.load(shared, GIVEN_UP + call.slot) === call.seq;
    if (given) return;
    Atomics.store(shared, RUNNING, call.seq);
    Atomics.store(shared, FLAG, 0);
    Atomics.store(shared, SUSPENDED, 0);
    Atomics.store(shared, PENDING, 0);
  });
  if (given) {
    host.end(undefined, undefined, NOT_BEGUN);
    return next();
  }
  interrupted = cancelled = ended = false;
  unacked = 0;
  current = call.seq;
  glue.handle.callPromising(call.pairs, call.hasBody, call.multiprocess)
    .catch((error) => {
      // One end per request: the main thread gives the next message to
      // the next request (a KeyboardInterrupt may land after the end).
      if (!ended) {
        host.end(undefined, undefined, String(error?.message ?? error));
      }
    })
    .then(() => {
      locked(shared, () => Atomics.store(shared, RUNNING, 0));
      current = 0;
      waiting = undefined;
      next();
    });
}

/** The JavaScript functions the glue calls. */
const host = {
  /** The bytes, null at the end, a reason they cannot come, false: stop. */
  read(n: number): Promise<Uint8Array | string | null | false> {
    if (stopped()) return Promise.resolve(false);
    post({ t: "read", n });
    return wait("read");
  },
  sleep(ms: number): Promise<boolean> {
    if (stopped()) return Promise.resolve(true);
    waitingFor = "sleep";
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting = undefined;
        resolve(false);
      }, ms);
      waiting = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  },
  log(text: string): void {
    post({ t: "log", text });
  },
  /** 0: go on; 1: wait for `drained()`; 2: the client is gone. */
  send(head: unknown, chunk: Piece): number {
    if (cancelled || interrupted) return 2;
    unacked += typeof chunk === "string"
      ? chunk.length
      : chunk instanceof Uint8Array
      ? chunk.byteLength
      : WINDOW;
    const ack = unacked >= WINDOW;
    post({ t: "chunk", head: (head ?? undefined) as never, chunk, ack }, [
      chunk,
    ]);
    return ack ? 1 : 0;
  },
  drained(): Promise<number> {
    if (stopped()) return Promise.resolve(2);
    return wait<number>("drain");
  },
  /** Python is back from a wait: whether it must stop now. */
  resumed(): boolean {
    locked(shared, () => {
      Atomics.store(shared, SUSPENDED, 0);
      if (Atomics.load(shared, PENDING) === current) interrupted = true;
      Atomics.store(shared, PENDING, 0);
    });
    return interrupted;
  },
  end(
    head: unknown,
    pieces: Piece[] | Piece | undefined,
    error: string | undefined,
  ) {
    ended = true;
    const chunks = pieces == null
      ? undefined
      : Array.isArray(pieces)
      ? pieces
      : [pieces];
    post(
      {
        t: "end",
        head: (head ?? undefined) as never,
        chunks: chunks ?? undefined,
        error: error ?? undefined,
      },
      chunks,
    );
  },
};

scope.onmessage = ({ data }) => {
  switch (data.t) {
    case "load":
      load(data).catch((error) =>
        scope.postMessage({
          t: "failed",
          message: String(error?.stack ?? error),
        })
      );
      break;
    case "call":
      calls.push(data);
      if (current === 0) next();
      break;
    case "withdraw":
      withdraw();
      break;
    case "input":
      // undefined, not null: newer Pyodide gives Python null as JsNull, not None.
      if (data.seq === current) wake(data.error ?? data.data ?? undefined);
      break;
    case "ack":
      if (data.seq !== current) break;
      unacked = 0;
      wake(0);
      break;
    case "cancel":
      if (data.seq !== current) break;
      cancelled = true;
      wake(2);
      break;
    case "reload":
      reload();
      break;
    case "interrupt":
      // Not begun: its given-up word stops it; over: nothing to do.
      if (data.seq !== current) break;
      // Python waits, or is done: either way it runs no code now, so the
      // flag is cleared and the wait told instead.
      Atomics.store(shared, FLAG, 0);
      interrupted = true;
      wake(waitingFor === "read" ? false : waitingFor === "sleep" ? true : 2);
      break;
  }
};

/** What the app was loaded with, to load it again. */
let loaded: LoadMessage;

/** Loads the app again from its files; says how it went. */
function reload(): void {
  const started = performance.now();
  // A flag raised as the last request ended must not stop the reload.
  locked(shared, () => Atomics.store(shared, FLAG, 0));
  try {
    const why = glue.reload(
      loaded.kind,
      loaded.target,
      loaded.callable,
      loaded.label,
      loaded.cwd,
    );
    if (typeof why === "string") {
      scope.postMessage({ t: "failed", message: why });
    } else {
      scope.postMessage({ t: "reloaded", ms: performance.now() - started });
    }
  } catch (error) {
    scope.postMessage(failure(error));
  }
}

/** A Python error as the main thread takes it: its last line and traceback. */
function failure(error: unknown): FromWorker {
  if (!(error instanceof Error) || error.constructor.name !== "PythonError") {
    return { t: "failed", message: String(error) };
  }
  return {
    t: "failed",
    message: importHint(error) ?? error.message.trimEnd().split("\n").at(-1)!,
    traceback: error.message,
    name: "PythonException",
  };
}

async function load(message: LoadMessage): Promise<void> {
  loaded = message;
  const started = performance.now();
  pyodide = await loadPyodide();
  // sqlite3 over Deno's SQLite, and hashlib.pbkdf2_hmac (python/sqlite.ts).
  await installSqlite(pyodide);
  shared = new Int32Array(message.shared);
  pyodide.setInterruptBuffer(new Int32Array(message.shared, FLAG * 4, 1));
  followLinks(pyodide);
  for (const dir of message.mounts) {
    pyodide.FS.mkdirTree(dir);
    pyodide.mountNodeFS(dir, dir);
  }
  pyodide.runPython(GLUE, { filename: GLUE_FILE });
  const names = ["setup", "load", "reload", "handle", "native_hint"];
  glue = Object.fromEntries(
    names.map((name) => [name, pyodide.globals.get(name)]),
  ) as unknown as Glue;
  const sys = pyodide.pyimport("sys");
  message.sysPath.toReversed().forEach((dir) => sys.path.insert(0, dir));
  sys.destroy();
  pyodide.pyimport("os").chdir(message.cwd);
  glue.setup(
    host,
    message.environment && pyodide.toPy(message.environment),
    message.multiprocess,
  );
  let failed: string | undefined;
  try {
    const why = glue.load(
      message.kind,
      message.target,
      message.callable,
      message.label,
    );
    if (typeof why === "string") failed = why;
  } catch (error) {
    if (!(error instanceof Error) || error.constructor.name !== "PythonError") {
      throw error;
    }
    scope.postMessage(failure(error));
    return;
  }
  if (failed !== undefined) {
    scope.postMessage({ t: "failed", message: failed });
    return;
  }
  const version = pyodide.runPython("import sys; sys.version.split()[0]");
  scope.postMessage({
    t: "ready",
    version,
    startup: performance.now() - started,
  });
}

/**
 * Emscripten's NODEFS reads a relative symlink against the process's working
 * folder; every folder is mounted at its own path, so the link's own folder
 * on the host is the right base, and the target is the host's path too.
 */
function followLinks(pyodide: PyodideInterface): void {
  const fs = pyodide.FS as unknown as {
    filesystems: {
      NODEFS: {
        node_ops: { readlink(node: unknown): string };
        realPath(node: unknown): string;
      };
    };
  };
  const nodefs = fs.filesystems.NODEFS;
  nodefs.node_ops.readlink = (node) => {
    const path = nodefs.realPath(node);
    return nodePath.resolve(nodePath.dirname(path), nodeFs.readlinkSync(path));
  };
}

/** Where Debian's python3-* packages (Flask, Bottle, Django) live. */
const DIST_PACKAGES = "/usr/lib/python3/dist-packages";

/**
 * One line for an import that failed: one that wanted a native extension
 * module, or one of a package Debian installed where Python here does not
 * look.
 */
function importHint(error: Error): string | undefined {
  const type = (error as { type?: string }).type;
  if (type !== "ModuleNotFoundError" && type !== "ImportError") return;
  const name = /No module named '([^']+)'/.exec(error.message)?.[1];
  if (name === undefined) return;
  const found = glue.native_hint(name);
  if (found !== undefined) {
    return `cannot import ${name}: ${found} is a native extension module, built for CPython on this machine; Pyodide runs Python as WebAssembly and loads only pure-Python modules`;
  }
  const top = name.split(".")[0];
  if (loaded.sysPath.includes(DIST_PACKAGES)) return;
  for (const candidate of [top, `${top}.py`]) {
    try {
      Deno.statSync(`${DIST_PACKAGES}/${candidate}`);
      return `No module named '${name}': it is in ${DIST_PACKAGES}, where Python here does not look; add --pythonpath ${DIST_PACKAGES} (pythonPath in loadPythonApp)`;
    } catch {
      // Not there, or not to be read: no hint.
    }
  }
}
