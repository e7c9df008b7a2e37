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
    : await loadApplication(command.module, command.pythonPath);
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

/** `path/app.ts:name` → the application it exports. */
export async function loadApplication(
  spec: string,
  pythonPath: string[],
): Promise<Application> {
  const [, path, name] = /^(.*?)(?::([A-Za-z_$][\w$]*))?$/.exec(spec)!;
  if (path.endsWith(".py")) return await loadPython(path, name, pythonPath);
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

/**
 * A `.py` file, through python.ts, imported only now: the core keeps no
 * npm dependency, and a TypeScript app never starts Pyodide.
 */
async function loadPython(
  path: string,
  callable: string | undefined,
  pythonPath: string[],
): Promise<Application> {
  // A specifier Deno does not follow ahead of time, so the module graph of
  // server.ts holds no npm package.
  const python = "../python.ts";
  const { loadPythonApp, PythonException }: PythonModule = await import(
    python
  );
  try {
    const app = await loadPythonApp(path, { callable, pythonPath });
    const { version, startup } = app.python;
    console.log(
      `Python ${version} (Pyodide) started in ${(startup / 1000).toFixed(1)} s`,
    );
    return app;
  } catch (error) {
    if (error instanceof PythonException) {
      // The traceback first, for a bug in the file; the usage line last.
      console.error(error.stack);
    } else if (!(error instanceof TypeError)) throw error;
    throw new UsageError(`cannot load ${path}: ${error.message}`);
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
    options: { callable?: string; pythonPath?: string[] },
  ): Promise<Application & { python: { version: string; startup: number } }>;
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
