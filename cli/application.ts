/**
 * The application a command line names: a TypeScript module's export or a
 * `.py` file's callable, with `--static` files beside it and the proxies it
 * trusts in front.
 *
 * @module
 */

import type { Application } from "../types.ts";
import { proxyFix } from "../proxy.ts";
import { sharedData } from "../static.ts";
import { type Command, UsageError } from "./command.ts";
import { demoApp } from "./simple_server.ts";

/** The application the command names, behind the proxies it trusts. */
export async function application(command: Command): Promise<Application> {
  let app = command.module === undefined
    ? demoApp
    : await loadApplication(command.module, command.pythonPath, command);
  if (command.module === undefined && command.threads !== undefined) {
    throw new UsageError(THREADS_FOR_PYTHON);
  }
  if (Object.keys(command.statics).length > 0) {
    app = sharedData(app, command.statics);
  }
  const n = command.proxyHops;
  return n === 0 ? app : proxyFix(app, {
    for: n,
    proto: n,
    host: n,
    port: n,
    prefix: n,
    allowFrom: command.forwardedAllowIps,
  });
}

const THREADS_FOR_PYTHON =
  "--threads is for a Python app; a TypeScript app runs on the main thread (use -w N for more cores)";

/** What the command says about Python's interpreters. */
type Interpreters = Pick<Command, "threads" | "queue" | "workers">;

/**
 * `module:name` → the application. A `.py` file, or a dotted name with no
 * `.ts`/`.js` ending (`flaskapp`, `mysite.wsgi`, gunicorn's spelling), is
 * Python; so `x:app` is x.py even where x.ts exists, and `x.ts:app` is x.ts.
 */
export async function loadApplication(
  spec: string,
  pythonPath: string[],
  interpreters: Interpreters = { workers: 1 },
): Promise<Application> {
  const [path, name] = split(spec);
  if (isPython(spec)) {
    return await loadPython(path, name, pythonPath, interpreters);
  }
  if (interpreters.threads !== undefined) {
    throw new UsageError(THREADS_FOR_PYTHON);
  }
  if (name !== undefined && !/^[A-Za-z_$][\w$]*$/.test(name)) {
    throw new UsageError(`${spec}: ${name} is not a JavaScript name`);
  }
  let module: Record<string, unknown>;
  try {
    module = await import(moduleUrl(path));
  } catch (error) {
    // A module that cannot be found is a usage error; one that throws while
    // loading is the application's bug, and its stack is worth reading.
    const reason = error instanceof Error ? error.message : String(error);
    if (
      !(error instanceof Deno.errors.NotCapable) && !UNLOADABLE.test(reason)
    ) {
      throw error;
    }
    throw new UsageError(`cannot import ${path}: ${reason.split("\n")[0]}`);
  }
  const app = module[name ?? "default"];
  if (typeof app !== "function") {
    const exports = Object.keys(module).join(", ") || "nothing";
    throw new UsageError(
      `${path} has no ${
        name ? `export named ${name}` : "default export"
      } that is a function (it exports: ${exports})`,
    );
  }
  return app as Application;
}

/** Endings that make a dotted name a script, not a Python module. */
const SCRIPT = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs|json)$/;

/** `path:name` → the path and the name, if one is given. */
function split(spec: string): [string, string | undefined] {
  const colon = spec.lastIndexOf(":");
  const named = colon > 0 && !spec.slice(colon + 1).includes("/");
  return named
    ? [spec.slice(0, colon), spec.slice(colon + 1)]
    : [spec, undefined];
}

/** Whether `module[:name]` names a Python application. */
export function isPython(spec: string): boolean {
  const [path] = split(spec);
  return path.endsWith(".py") ||
    (/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/.test(path) && !SCRIPT.test(path));
}

/** The Python application this process loaded, for `--reload`. */
let python: { reload(): Promise<number> } | undefined;

/**
 * Loads the Python application of this process again from its files, in
 * its running interpreters (python.ts `reload`); resolves to the ms it took.
 */
export function reloadPython(): Promise<number> {
  return python!.reload();
}

/**
 * A Python application, through python.ts, imported only now: the core
 * keeps no npm dependency, and a TypeScript app never starts Pyodide.
 */
async function loadPython(
  path: string,
  callable: string | undefined,
  pythonPath: string[],
  { threads, queue, workers }: Interpreters,
): Promise<Application> {
  // A specifier Deno does not follow ahead of time, so the module graph of
  // server.ts holds no npm package.
  const module = "../python.ts";
  const { loadPythonApp, PythonException }: PythonModule = await import(
    module
  );
  try {
    const app = await loadPythonApp(path, {
      callable,
      pythonPath,
      threads,
      queue,
      multiprocess: workers > 1,
    });
    python = app;
    const { version, startup, threads: k } = app.python;
    console.log(
      `Python ${version} (Pyodide) started in ${
        (startup / 1000).toFixed(1)
      } s` +
        (k > 1 ? `: ${k} interpreters` : ""),
    );
    return app;
  } catch (error) {
    // The traceback first, for a bug in the file; the usage line last.
    if (error instanceof PythonException) {
      console.error((error as { traceback?: string }).traceback ?? error.stack);
    }
    const reason = error instanceof Error ? error.message : String(error);
    // python.ts names the file itself: said once.
    const said = reason.startsWith(`${path}: `)
      ? reason.slice(path.length + 2)
      : reason;
    throw new UsageError(`cannot load ${path}: ${said.split("\n")[0]}`);
  }
}

/**
 * What loadPython uses of python.ts, written here to keep Pyodide out of
 * the command line's module graph; tests/python_test.ts checks that
 * python.ts satisfies it.
 */
export interface PythonModule {
  loadPythonApp(
    path: string,
    options: {
      callable?: string;
      pythonPath?: string[];
      threads?: number;
      queue?: number;
      multiprocess?: boolean;
    },
  ): Promise<
    Application & {
      python: { version: string; startup: number; threads: number };
      reload(): Promise<number>;
      close(): void;
    }
  >;
  PythonException: new (...args: never[]) => Error;
}

// A missing permission reads "Requires read access to …, run again with the
// --allow-read flag": the one line names the flag.
const UNLOADABLE =
  /^Module not found|^Relative import path|^Unsupported scheme|^Import .* not a dependency|^Requires \w+ access/;

/** A file path, relative to the working folder, or a URL, as a module URL. */
function moduleUrl(path: string): string {
  if (/^[a-z][a-z\d+.-]+:/i.test(path)) return path;
  const url = new URL("file:///");
  // The pathname setter escapes `#`, `?` and spaces, but keeps `%` as is.
  url.pathname = (path.startsWith("/") ? path : `${Deno.cwd()}/${path}`)
    .replaceAll("%", "%25");
  return url.href;
}
