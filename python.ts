/**
 * Python WSGI applications on the gateway: {@linkcode loadPythonApp} loads a
 * `.py` file (or a module, `mysite.wsgi`) into Pyodide (CPython compiled to
 * WebAssembly, from the npm registry) in worker threads, and returns an
 * {@linkcode Application} that calls its callable with a real PEP 3333
 * environ. The lesson's own `webapp/holamundo.py` runs unchanged:
 *
 * ```sh
 * deno run -A server.ts --trace examples/webapp/holamundo.py:hola_mundo_app
 * ```
 *
 * This is the only module of the package with a dependency (`npm:pyodide`,
 * pinned in deno.json); the core never imports it, and the command line
 * loads it only for a Python application.
 *
 * How it runs, as a production server runs Python:
 * - `threads` interpreters (1 by default), each in a worker thread of its
 *   own, each serving one request at a time; the main thread only passes
 *   messages, so it keeps serving static files, TypeScript routes, limits,
 *   timeouts and the log while Python computes. A request waits for a free
 *   interpreter in a queue of at most `queue` requests (else 503, logged).
 * - `wsgi.input` reads from the network as Python reads, bounded by the
 *   gateway's `limitRequestBody`; nothing buffers the whole body.
 * - A generator's chunks reach the client as Python yields them; Python
 *   waits when the client is 256 KiB behind.
 * - `time.sleep` in a view waits on a timer, costing no CPU.
 * - Past the gateway's `appTimeout`, the interpreter is interrupted
 *   (`KeyboardInterrupt`) and serves the next request.
 * - `os.environ` is the process's environment (when Deno may read it:
 *   `--allow-env`); `/usr/share/zoneinfo` and `/usr/share/javascript` are
 *   there when the host has them.
 *
 * A Python exception becomes a {@linkcode PythonException} whose stack is
 * the Python traceback, so the gateway logs it in `wsgi.errors` and
 * answers its own 500 (or aborts the response if it had started).
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

import type { Application } from "./types.ts";
import { PythonException } from "./python/exception.ts";
import { LoadFailure, Pool } from "./python/pool.ts";
import { type LoadMessage, PYTHON_DEFAULTS } from "./python/protocol.ts";

export { PYTHON_DEFAULTS };

export { PythonException };

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
 *   threads: 2,
 * };
 * ```
 */
export interface PythonOptions {
  /** The name of the WSGI callable in the file; `application` by default. */
  callable?: string;
  /**
   * Folders (or `.whl` and `.zip` files) added to `sys.path` after the
   * application's own folder, for the packages it imports. Only
   * pure-Python modules load.
   */
  pythonPath?: string[];
  /** Interpreters, each in a worker thread of its own; 1 by default. */
  threads?: number;
  /** Requests that may wait for a free interpreter; 1000 by default. */
  queue?: number;
  /** `wsgi.multiprocess`: whether other processes serve the app too. */
  multiprocess?: boolean;
  /**
   * `os.environ`; by default the process's environment when Deno may
   * read it (`--allow-env`), else Pyodide's own few variables.
   */
  environment?: Record<string, string>;
}

/**
 * A Python application, with what its interpreters say about themselves,
 * and the way to end them.
 *
 * @example
 * ```ts ignore
 * import { loadPythonApp } from "@denowsgi/wsgi/python";
 *
 * using app = await loadPythonApp("examples/webapp/holamundo.py", {
 *   callable: "hola_mundo_app",
 * });
 * console.log(`Python ${app.python.version}, up in ${app.python.startup} ms`);
 * ```
 */
export type PythonApplication = Application & {
  /** The Python version, how long Pyodide took to start (ms), threads. */
  readonly python: { version: string; startup: number; threads: number };
  /**
   * Loads the application again from its files, in the running
   * interpreters (what `server.ts --reload` does for a `.py` app): modules
   * loaded from the app's folder are read again, the rest (Flask, the
   * standard library) stay. Resolves to the milliseconds it took; rejects
   * with a {@linkcode PythonException} when the new code does not load, and
   * the last application that loaded keeps serving.
   */
  reload(): Promise<number>;
  /** Ends the interpreters' threads. */
  close(): void;
  [Symbol.dispose](): void;
};

/** Host folders a Python application expects, shown when present. */
const HOST_FOLDERS = ["/usr/share/zoneinfo", "/usr/share/javascript"];

/** Pyodide's own folders, which no host folder may cover. */
const RESERVED = ["/lib", "/dev", "/proc", "/home/pyodide"];

const PYTHON_NAME = /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/;

/**
 * Loads a Python application and returns its WSGI callable as an
 * {@linkcode Application}. `path` is a `.py` file, or a module's dotted
 * name as gunicorn spells it (`flaskapp`, `mysite.wsgi`), looked for in
 * the working folder, then in `pythonPath`. Each interpreter takes seconds
 * to start (see `app.python.startup`); they start together.
 *
 * Throws a `TypeError` saying in one line what is wrong with the path,
 * the name or a folder, and a {@linkcode PythonException} when the
 * application raises while it loads (when a module it imports is a native
 * extension, its message says so in one line).
 *
 * @example
 * ```ts ignore
 * import { toFetchHandler } from "@denowsgi/wsgi";
 * import { loadPythonApp } from "@denowsgi/wsgi/python";
 *
 * using app = await loadPythonApp("examples/webapp/holamundo.py", {
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
  const callable = options.callable ?? "application";
  if (!PYTHON_NAME.test(callable)) {
    throw new TypeError(
      `${path}:${callable}: ${callable} is not a Python name`,
    );
  }
  const threads = options.threads ?? PYTHON_DEFAULTS.threads;
  const queue = options.queue ?? PYTHON_DEFAULTS.queue;
  if (!(Number.isInteger(threads) && threads >= 1)) {
    throw new TypeError(`threads wants a whole number ≥ 1, got ${threads}`);
  }
  const extra = (options.pythonPath ?? []).map(pathEntry);
  const located = locate(path, extra.map((e) => e.entry));
  const sysPath = [located.folder, ...extra.map((e) => e.entry)];
  const mounts = outermost([
    located.folder,
    ...extra.map((e) => e.folder),
    ...HOST_FOLDERS.filter(isFolder),
  ]);
  let pool: Pool;
  try {
    pool = await Pool.start({
      threads,
      queue,
      load: {
        ...located.load,
        callable,
        mounts,
        sysPath,
        environment: options.environment ?? environment(),
        multiprocess: (options.multiprocess ?? false) || threads > 1,
      },
    });
  } catch (error) {
    if (error instanceof LoadFailure) throw new TypeError(error.message);
    throw error;
  }
  const close = () => pool.close();
  return Object.assign(pool.app, {
    python: { version: pool.version, startup: pool.startup, threads },
    reload: async () => {
      try {
        return await pool.reload();
      } catch (error) {
        if (error instanceof LoadFailure) throw new TypeError(error.message);
        throw error;
      }
    },
    close,
    [Symbol.dispose]: close,
  });
}

/** Where the application is: a file, or a module under a folder. */
function locate(path: string, pythonPath: string[]): {
  folder: string;
  load: Pick<LoadMessage, "kind" | "target" | "label" | "cwd">;
} {
  if (path.endsWith(".py")) {
    const file = absolute(path);
    if (!isFile(file)) throw new TypeError(`${path}: no such file`);
    const folder = file.slice(0, file.lastIndexOf("/")) || "/";
    return {
      folder,
      load: { kind: "file", target: file, label: path, cwd: folder },
    };
  }
  if (!PYTHON_NAME.test(path)) {
    throw new TypeError(
      `${path}: a Python application is a .py file or a module's dotted name`,
    );
  }
  const relative = path.replaceAll(".", "/");
  const cwd = Deno.cwd();
  for (const root of [cwd, ...pythonPath]) {
    if (
      isFile(`${root}/${relative}.py`) ||
      isFile(`${root}/${relative}/__init__.py`)
    ) {
      return {
        folder: cwd,
        load: { kind: "module", target: path, label: path, cwd },
      };
    }
  }
  throw new TypeError(
    `no module ${path}: no ${relative}.py nor ${relative}/__init__.py in ${
      [".", ...pythonPath].join(", ")
    }`,
  );
}

/** A pythonPath entry: a folder, or a wheel or zip (imported by zipimport). */
function pathEntry(given: string): { entry: string; folder: string } {
  const entry = absolute(given);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(entry);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new TypeError(`pythonpath ${given}: no such folder`);
    }
    throw error;
  }
  if (info.isDirectory) return { entry, folder: entry };
  if (info.isFile && /\.(whl|zip|egg)$/.test(entry)) {
    return { entry, folder: entry.slice(0, entry.lastIndexOf("/")) || "/" };
  }
  throw new TypeError(
    `pythonpath ${given}: not a folder (nor a .whl or .zip file)`,
  );
}

/** The folders to mount: each covered one is left to the one covering it. */
function outermost(folders: string[]): string[] {
  const sorted = [...new Set(folders)].sort((a, b) => a.length - b.length);
  const kept: string[] = [];
  for (const dir of sorted) {
    for (const own of RESERVED) {
      if (
        dir === "/" || dir === own || own.startsWith(`${dir}/`) ||
        dir.startsWith(`${own}/`)
      ) {
        throw new TypeError(
          `${dir} cannot be shown to Python: it would cover Pyodide's own ${own}`,
        );
      }
    }
    if (!kept.some((outer) => dir.startsWith(`${outer}/`))) kept.push(dir);
  }
  return kept;
}

function environment(): Record<string, string> | undefined {
  try {
    return Deno.permissions.querySync({ name: "env" }).state === "granted"
      ? Deno.env.toObject()
      : undefined;
  } catch {
    return undefined;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function isFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function absolute(path: string): string {
  const full = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  return full.replace(/\/\.(?=\/)/g, "").replace(/\/+$/, "") || "/";
}
