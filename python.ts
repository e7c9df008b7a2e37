/**
 * Python WSGI applications on the gateway: {@linkcode loadPythonApp} loads a
 * `.py` file into Pyodide (CPython compiled to WebAssembly, from the npm
 * registry) and returns an {@linkcode Application} that calls the file's
 * callable with a real PEP 3333 environ. The lesson's own
 * `webapp/holamundo.py` runs unchanged:
 *
 * ```sh
 * deno run -A server.ts --trace examples/webapp/holamundo.py:hola_mundo_app
 * ```
 *
 * This is the only module of the package with a dependency (`npm:pyodide`,
 * pinned to 0.27.7 in deno.json); the core never imports it, and the command line loads it only
 * for a `.py` file.
 *
 * What the Python application gets:
 * - `environ`: a `dict` of `str` values (every string key of the gateway's
 *   environ), `wsgi.version` `(1, 0)`, the `wsgi.*` flags as `bool`,
 *   `wsgi.file_wrapper` (wsgiref's `FileWrapper`).
 * - `wsgi.input`: an `io.BytesIO` holding the whole body. Pyodide calls
 *   Python synchronously, and Python's `read()` cannot wait for the network,
 *   so the body is read from the gateway's `wsgi.input` before the call,
 *   up to `maxContentLength` bytes (more is answered `413`, as nginx's
 *   `client_max_body_size` does). A request with no body is not read at all.
 * - `wsgi.errors`: a text stream writing to the gateway's `wsgi.errors`.
 * - `start_response(status, headers, exc_info=None)`, returning `write`.
 * - Chunks may be `bytes` or `str` (sent as UTF-8, so the lesson's app,
 *   which returns `str`, works as written). A list or tuple goes out at
 *   once; any other iterable is pulled one chunk at a time as the client
 *   reads, and its `close()` is called however the response ends.
 *
 * A Python exception becomes a JavaScript error whose stack is the Python
 * traceback, so the gateway logs it in `wsgi.errors` and answers its own
 * 500 (or aborts the response if it had started), as for any application.
 *
 * @example Serving a Python file
 * ```ts ignore
 * import { serve } from "@denowsgi/wsgi";
 * import { loadPythonApp } from "@denowsgi/wsgi/python";
 *
 * const app = await loadPythonApp("examples/webapp/holamundo.py", {
 *   callable: "hola_mundo_app",
 * });
 * serve(app, { hostname: "localhost", port: 8000 });
 * ```
 *
 * @module
 */

import { loadPyodide, type PyodideInterface } from "pyodide";
import type { Application, Body, Chunk, Environ } from "./types.ts";
import { GLUE, GLUE_FILE } from "./python/glue.ts";
import { installSqlite } from "./python/sqlite.ts";

/**
 * Options for {@linkcode loadPythonApp}.
 *
 * @example
 * ```ts
 * import type { PythonOptions } from "@denowsgi/wsgi/python";
 *
 * const options: PythonOptions = {
 *   callable: "app",
 *   pythonPath: ["/usr/lib/python3/dist-packages"],
 * };
 * ```
 */
export interface PythonOptions {
  /** The name of the WSGI callable in the file; `application` by default. */
  callable?: string;
  /**
   * Folders added to `sys.path` after the file's own folder, for the
   * packages the application imports. Only pure-Python modules load.
   */
  pythonPath?: string[];
  /** The largest request body read for the application; 1 MiB by default. */
  maxContentLength?: number;
}

/**
 * A Python application, with what its interpreter says about itself.
 *
 * @example
 * ```ts ignore
 * import { loadPythonApp } from "@denowsgi/wsgi/python";
 *
 * const app = await loadPythonApp("examples/webapp/holamundo.py", {
 *   callable: "hola_mundo_app",
 * });
 * console.log(`Python ${app.python.version}, up in ${app.python.startup} ms`);
 * ```
 */
export type PythonApplication = Application & {
  /** The Python version, and how long Pyodide took to start (ms). */
  readonly python: { version: string; startup: number };
};

/**
 * A Python exception, carried into JavaScript: the message is its last
 * line (`ValueError: …`), the stack is the whole Python traceback.
 *
 * @example
 * ```ts ignore
 * import { loadPythonApp, PythonException } from "@denowsgi/wsgi/python";
 *
 * try {
 *   await loadPythonApp("broken.py");
 * } catch (error) {
 *   if (error instanceof PythonException) console.error(error.stack);
 * }
 * ```
 */
export class PythonException extends Error {
  /**
   * `traceback` as Python formats it; `summary`, when given, is the message
   * and the stack's last line (else the traceback's last line is).
   */
  constructor(traceback: string, summary?: string) {
    const lines = traceback.trimEnd().split("\n");
    super(summary ?? lines.at(-1));
    this.name = "PythonException";
    this.stack = summary ? `${traceback.trimEnd()}\n${summary}` : traceback;
  }
}

const DEFAULT_MAX_CONTENT_LENGTH = 1024 * 1024;

/**
 * Loads a Python file and returns its WSGI callable as an
 * {@linkcode Application}. The first call starts Pyodide (seconds: see
 * `app.python.startup`); later calls share that interpreter. The file's
 * folder and `pythonPath` are mounted into Pyodide's file system at their
 * own paths and put on `sys.path`; Python's working folder is the file's.
 *
 * Throws a {@linkcode PythonException} when the file raises while it loads;
 * when a module it imports is a native extension (a `.so` built for
 * CPython), the message says so in one line.
 *
 * @example
 * ```ts ignore
 * import { toFetchHandler } from "@denowsgi/wsgi";
 * import { loadPythonApp } from "@denowsgi/wsgi/python";
 *
 * const app = await loadPythonApp("examples/webapp/holamundo.py", {
 *   callable: "hola_mundo_app",
 * });
 * const response = await toFetchHandler(app)(new Request("http://localhost/"));
 * console.log(await response.text()); // "… Hola mundo! …"
 * ```
 */
export async function loadPythonApp(
  path: string,
  options: PythonOptions = {},
): Promise<PythonApplication> {
  const { pyodide, glue, version, startup } = await (interpreter ??= start());
  const file = absolute(path);
  const folder = file.slice(0, file.lastIndexOf("/")) || "/";
  const paths = [folder, ...(options.pythonPath ?? []).map(absolute)];
  for (const dir of paths) mount(pyodide, dir);
  const sys = pyodide.pyimport("sys");
  for (const dir of paths.toReversed()) {
    if (!sys.path.includes(dir)) sys.path.insert(dir === folder ? 0 : 1, dir);
  }
  sys.destroy();
  pyodide.pyimport("os").chdir(folder);

  const loaded = python(
    () => glue.load(file, options.callable ?? "application"),
    (error) => nativeHint(glue, error),
  );
  if (typeof loaded === "string") throw new TypeError(loaded);
  const limit = options.maxContentLength ?? DEFAULT_MAX_CONTENT_LENGTH;
  const app: Application = (environ, startResponse) => {
    const call = (body: Uint8Array | null) =>
      respond(glue, loaded, environ, startResponse, body);
    const length = Number(environ.CONTENT_LENGTH ?? 0);
    // Deno gives GET and HEAD no body; anything else may be chunked.
    const { REQUEST_METHOD: method, CONTENT_LENGTH: declared } = environ;
    if (
      declared === undefined ? method === "GET" || method === "HEAD" : !length
    ) return call(null);
    if (length > limit) return tooLarge(environ, startResponse, limit);
    return environ["wsgi.input"].read(limit + 1).then((body) =>
      body.byteLength > limit
        ? tooLarge(environ, startResponse, limit)
        : call(body)
    );
  };
  return Object.assign(app, { python: { version, startup } });
}

// -- the interpreter, started once per process --------------------------------

/** The Python functions `python/glue.ts` defines, as JavaScript sees them. */
interface Glue {
  load(path: string, name: string): PyObject | string;
  call(...args: unknown[]): PyObject | Chunk[];
  iterate(result: PyObject): PyObject;
  step(iterator: PyObject): Chunk | undefined;
  close(result: PyObject): void;
  native_hint(error: unknown): string | undefined;
}

/** A Python object held from JavaScript: freed by hand. */
interface PyObject {
  destroy(): void;
}

interface Interpreter {
  pyodide: PyodideInterface;
  glue: Glue;
  version: string;
  startup: number;
}

let interpreter: Promise<Interpreter> | undefined;

async function start(): Promise<Interpreter> {
  const started = performance.now();
  const pyodide = await loadPyodide();
  // Integration point (python/sqlite.ts): `import sqlite3` over Deno's
  // SQLite, and hashlib.pbkdf2_hmac, for every app of this interpreter.
  await installSqlite(pyodide);
  pyodide.runPython(GLUE, { filename: GLUE_FILE });
  const names = ["load", "call", "iterate", "step", "close", "native_hint"];
  const glue = Object.fromEntries(
    names.map((name) => [name, pyodide.globals.get(name)]),
  ) as unknown as Glue;
  const version = pyodide.runPython("import sys; sys.version.split()[0]");
  return { pyodide, glue, version, startup: performance.now() - started };
}

/** Host folders shown inside Pyodide, at their own paths. */
const mounted = new Set<string>();

/** Shows a host folder inside Pyodide at the same path, once. */
function mount(pyodide: PyodideInterface, dir: string): void {
  for (const outer of mounted) {
    if (dir === outer || dir.startsWith(`${outer}/`)) return;
  }
  pyodide.FS.mkdirTree(dir);
  pyodide.mountNodeFS(dir, dir);
  mounted.add(dir);
}

function absolute(path: string): string {
  const full = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  return full.replace(/\/\.(?=\/)/g, "").replace(/\/+$/, "") || "/";
}

// -- one request ----------------------------------------------------------------

function respond(
  glue: Glue,
  app: PyObject,
  environ: Environ,
  startResponse: Parameters<Application>[1],
  body: Uint8Array | null,
): Body {
  const pairs: unknown[] = [];
  for (const key in environ) {
    const value = environ[key];
    if (typeof value === "string" || typeof value === "boolean") {
      pairs.push(key, value);
    }
  }
  // The gateway throws excInfo back once the response has started; Python
  // then re-raises its own exception, with its own traceback.
  const start = (status: unknown, headers: unknown, excInfo?: string) => {
    try {
      return startResponse(
        status as string,
        headers as [string, string][],
        excInfo,
      );
    } catch (error) {
      if (excInfo !== undefined && error === excInfo) return null;
      throw error;
    }
  };
  const result = python(() =>
    glue.call(app, pairs, body, environ["wsgi.errors"], start)
  );
  if (Array.isArray(result)) return result;
  let iterator: PyObject | undefined;
  return {
    [Symbol.iterator]: () => {
      iterator = python(() => glue.iterate(result));
      return {
        next: () => {
          const value = python(() => glue.step(iterator!));
          return value === undefined
            ? { done: true, value: undefined }
            : { done: false, value };
        },
      };
    },
    close: () => {
      try {
        python(() => glue.close(result));
      } finally {
        iterator?.destroy();
        result.destroy();
      }
    },
  };
}

/** The body is over the limit: a 413, and one line saying which limit. */
function tooLarge(
  environ: Environ,
  startResponse: Parameters<Application>[1],
  limit: number,
): Body {
  const { REQUEST_METHOD, REQUEST_URI } = environ;
  environ["wsgi.errors"].write(
    `[wsgi] ${REQUEST_METHOD} ${REQUEST_URI}: the request body is over the Python application's limit of ${limit} bytes (maxContentLength); answered 413\n`,
  );
  startResponse("413 Content Too Large", [
    ["Content-Type", "text/plain; charset=utf-8"],
  ]);
  return [`The request body is over ${limit} bytes.\n`];
}

// -- Python's errors, told in Python's words -----------------------------------------

/** Pyodide's own frames and the glue's say nothing about the application. */
const GLUE_FRAME = new RegExp(
  String
    .raw`^  File "(?:${GLUE_FILE}|/lib/python[\d.]+\.zip/_pyodide/[^"]*)".*\n(?:    .*\n)*`,
  "gm",
);

/**
 * Runs a call into Python; a Python exception comes out as a
 * {@linkcode PythonException} holding its traceback, trimmed of the glue.
 */
function python<T>(
  call: () => T,
  summarize?: (error: unknown) => string | undefined,
): T {
  try {
    return call();
  } catch (error) {
    if (!(error instanceof Error) || error.constructor.name !== "PythonError") {
      throw error;
    }
    const traceback = error.message.replace(GLUE_FRAME, "");
    throw new PythonException(traceback, summarize?.(error));
  }
}

/** One line for an import that wanted a native extension module. */
function nativeHint(glue: Glue, error: unknown): string | undefined {
  const type = (error as { type?: string }).type;
  if (type !== "ModuleNotFoundError" && type !== "ImportError") return;
  const name = /No module named '([^']+)'/.exec((error as Error).message)?.[1];
  if (name === undefined) return;
  const found = glue.native_hint(name);
  if (found === undefined) return;
  return `cannot import ${name}: ${found} is a native extension module, built for CPython on this machine; Pyodide runs Python as WebAssembly and loads only pure-Python modules`;
}
