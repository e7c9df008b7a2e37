/**
 * One Python interpreter, in a worker thread of its own: Pyodide, the glue
 * (`python/glue.ts`), and the application, loaded once. It serves one
 * request at a time; while Python waits (a read of `wsgi.input`,
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
import type { FromWorker, LoadMessage, Piece, ToWorker } from "./protocol.ts";

interface Scope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as Scope;

/** A chunk's bytes may go without a copy when they own their buffer. */
function post(message: FromWorker, bytes?: Piece | null): void {
  if (
    bytes instanceof Uint8Array && bytes.byteOffset === 0 &&
    bytes.buffer.byteLength === bytes.byteLength &&
    bytes.buffer instanceof ArrayBuffer
  ) {
    scope.postMessage(message, [bytes.buffer]);
  } else scope.postMessage(message);
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
let interrupt: Int32Array;

/** What the request in progress waits for, if anything. */
let waiting: ((value: unknown) => void) | undefined;
let waitingFor: "read" | "sleep" | "drain" | undefined;
let interrupted = false;
let cancelled = false;
let unacked = 0;

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
 * Whether the deadline passed. A wait is never begun then: Python would
 * take the interrupt inside Pyodide's own promise machinery, which does not
 * recover, so the buffer is cleared and the glue raises KeyboardInterrupt.
 */
function stopped(): boolean {
  if (Atomics.load(interrupt, 0) !== 0) {
    Atomics.store(interrupt, 0, 0);
    interrupted = true;
  }
  return interrupted;
}

/** The JavaScript functions the glue calls. */
const host = {
  /** The bytes, null at the end, a reason they cannot come, false: stop. */
  read(n: number): Promise<Uint8Array | string | null | false> {
    if (stopped()) return Promise.resolve(false);
    scope.postMessage({ t: "read", n });
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
    scope.postMessage({ t: "log", text });
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
    post({ t: "chunk", head: (head ?? undefined) as never, chunk, ack }, chunk);
    return ack ? 1 : 0;
  },
  drained(): Promise<number> {
    if (stopped()) return Promise.resolve(2);
    return wait<number>("drain");
  },
  end(
    head: unknown,
    pieces: Piece[] | Piece | undefined,
    error: string | undefined,
  ) {
    const chunks = pieces == null
      ? undefined
      : Array.isArray(pieces)
      ? pieces
      : [pieces];
    const transfer = (chunks ?? []).flatMap((c) =>
      c instanceof Uint8Array && c.byteOffset === 0 &&
        c.buffer.byteLength === c.byteLength && c.buffer instanceof ArrayBuffer
        ? [c.buffer]
        : []
    );
    scope.postMessage(
      {
        t: "end",
        head: (head ?? undefined) as never,
        chunks: chunks ?? undefined,
        error: error ?? undefined,
      },
      transfer,
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
      interrupted = cancelled = false;
      unacked = 0;
      Atomics.store(interrupt, 0, 0);
      glue.handle.callPromising(data.pairs, data.hasBody, data.multiprocess)
        .catch((error) =>
          host.end(undefined, undefined, String(error?.message ?? error))
        );
      break;
    case "input":
      // undefined, not null: newer Pyodide gives Python null as JsNull, not None.
      wake(data.error ?? data.data ?? undefined);
      break;
    case "ack":
      unacked = 0;
      wake(0);
      break;
    case "cancel":
      cancelled = true;
      wake(2);
      break;
    case "reload":
      reload();
      break;
    case "interrupt":
      // Python waits, or is done: either way it runs no code now, so the
      // buffer is cleared and the wait told instead.
      Atomics.store(interrupt, 0, 0);
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
    message: nativeHint(error) ?? error.message.trimEnd().split("\n").at(-1)!,
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
  interrupt = new Int32Array(message.interrupt);
  pyodide.setInterruptBuffer(interrupt);
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

/** One line for an import that wanted a native extension module. */
function nativeHint(error: Error): string | undefined {
  const type = (error as { type?: string }).type;
  if (type !== "ModuleNotFoundError" && type !== "ImportError") return;
  const name = /No module named '([^']+)'/.exec(error.message)?.[1];
  if (name === undefined) return;
  const found = glue.native_hint(name);
  if (found === undefined) return;
  return `cannot import ${name}: ${found} is a native extension module, built for CPython on this machine; Pyodide runs Python as WebAssembly and loads only pure-Python modules`;
}
