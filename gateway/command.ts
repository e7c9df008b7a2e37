/**
 * The command line, like gunicorn's and `python -m wsgiref.simple_server`:
 * `module:name` on the command line, where to listen, the access log and
 * the trace.
 *
 * @module
 */

import type { Application, GatewayOptions } from "../types.ts";
import { proxyFix } from "../proxy.ts";
import { sharedData } from "../static.ts";
import { serveCommand } from "./listen.ts";
import { demoApp } from "./simple_server.ts";
import { runWorkers } from "./workers.ts";

const USAGE = `Serves a WSGI application with Deno.

Usage:
  deno run --allow-net --allow-read server.ts [options] [module[:name]]

  module[:name]        a file that exports the application: the export called
                       name, or the default export; with no module, a demo app
                       that shows the request's environ. A .py file runs on
                       Pyodide: name is its callable (default: application)
  --pythonpath DIR     a folder of Python packages for a .py app (repeatable)
  -b, --bind ADDRESS   where to listen (default localhost:8000): HOST:PORT,
                       :PORT for every interface, or unix:PATH; repeat it to
                       listen on several
  --host HOST          the host alone
  --port PORT          the port alone
  -w, --workers N      N isolates (one per core) under deno serve --parallel
                       (default 1; needs --allow-run=deno)
  --proxy-hops N       trust N proxies' X-Forwarded-For, -Proto, -Host, -Port
                       and -Prefix headers (default 0: trust none)
  --graceful-timeout S seconds requests in flight get after SIGTERM or Ctrl+C
                       before they are ended (default 30)
  --certfile FILE      serve HTTPS (and HTTP/2) with this PEM certificate
  --keyfile FILE       and this PEM private key
  --access-log         one Common Log Format line per request (the default)
  --no-access-log      no access log
  --trace              print every step of every request's flow
  --static PREFIX=DIR  serve the files in DIR under the URL PREFIX, beside the
                       application (which still gets every other path, and
                       paths under PREFIX with no file); repeatable
  -h, --help           this text

Limits (bytes; 0 turns one off) and timeouts (seconds; 0 turns one off):
  --limit-request-target N      longest path and query, else 414 (8192)
  --limit-request-fields N      most header fields, else 431 (off; Deno: 128)
  --limit-request-field-size N  longest header field, else 431 (off)
  --limit-request-body N        largest body, else 413 (104857600)
  --read-timeout S      an upload silent this long fails, 408 (60)
  --send-timeout S      a client that reads nothing this long is cut (60)
  --slow-app-warning S  log an application silent this long (10)
  --app-timeout S       answer 503 for an application silent this long (30)`;

/** The limit and timeout flags, and the GatewayOptions each one sets. */
const TUNING = {
  "--limit-request-target": "limitRequestTarget",
  "--limit-request-fields": "limitRequestFields",
  "--limit-request-field-size": "limitRequestFieldSize",
  "--limit-request-body": "limitRequestBody",
  "--read-timeout": "readTimeout",
  "--send-timeout": "sendTimeout",
  "--slow-app-warning": "slowAppWarning",
  "--app-timeout": "appTimeout",
} as const satisfies Record<string, keyof GatewayOptions>;

/** A mistake on the command line: said in one line, never as a stack. */
export class UsageError extends Error {}

/** A `-b` address: TCP, or a unix socket's path. */
export type Bind = { hostname: string; port: number } | { path: string };

export interface Command {
  host: string;
  port: number;
  binds: Bind[];
  workers: number;
  proxyHops: number;
  gracefulTimeout: number;
  certfile?: string;
  keyfile?: string;
  accessLog: boolean;
  trace: boolean;
  help: boolean;
  module?: string;
  /** URL prefix → directory, from each --static. */
  statics: Record<string, string>;
  /** Folders put on sys.path for a Python application. */
  pythonPath: string[];
  tuning: Pick<GatewayOptions, (typeof TUNING)[keyof typeof TUNING]>;
}

export function parseCommand(args: string[]): Command {
  const command: Command = {
    host: "localhost",
    port: 8000,
    binds: [],
    workers: 1,
    proxyHops: 0,
    gracefulTimeout: 30,
    accessLog: true,
    trace: false,
    help: false,
    statics: {},
    pythonPath: [],
    tuning: {},
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith("--")
      ? args[i].split(/=(.*)/s, 2)
      : [args[i]];
    const value = () => {
      const given = inline ?? args[++i];
      if (given === undefined) throw new UsageError(`${flag} needs a value`);
      return given;
    };
    switch (flag) {
      case "-h":
      case "--help":
        command.help = true;
        break;
      case "-b":
      case "--bind":
        command.binds.push(parseBind(value()));
        break;
      case "--host":
        command.host = value();
        break;
      case "--port":
        command.port = parsePort(value());
        break;
      case "--access-log":
        command.accessLog = true;
        break;
      case "--no-access-log":
        command.accessLog = false;
        break;
      case "--trace":
        command.trace = true;
        break;
      case "--static": {
        const [prefix, dir] = parseStatic(value());
        command.statics[prefix] = dir;
        break;
      }
      case "--pythonpath":
        command.pythonPath.push(value());
        break;
      case "-w":
      case "--workers":
        command.workers = parseCount(flag, value(), 1);
        break;
      case "--proxy-hops":
        command.proxyHops = parseCount(flag, value(), 0);
        break;
      case "--graceful-timeout":
        command.gracefulTimeout = parseSeconds(flag, value());
        break;
      case "--certfile":
        command.certfile = value();
        break;
      case "--keyfile":
        command.keyfile = value();
        break;
      default:
        if (flag in TUNING) {
          const amount = Number(value());
          if (!(amount >= 0)) {
            throw new UsageError(`${flag} wants a number from 0 up`);
          }
          command.tuning[TUNING[flag as keyof typeof TUNING]] = amount;
          break;
        }
        if (flag.startsWith("-")) {
          throw new UsageError(`unknown option ${flag}`);
        }
        if (command.module !== undefined) {
          throw new UsageError(
            `one module at a time, got ${command.module} and ${flag}`,
          );
        }
        command.module = flag;
    }
  }
  if (command.host === "") throw new UsageError("the host must not be empty");
  if (command.binds.length === 0) {
    command.binds.push({ hostname: command.host, port: command.port });
  }
  if ((command.certfile === undefined) !== (command.keyfile === undefined)) {
    throw new UsageError("--certfile and --keyfile go together");
  }
  return command;
}

/** gunicorn's forms: `HOST:PORT`, `[::1]:PORT`, `:PORT` (every interface), `unix:PATH`. */
function parseBind(bind: string): Bind {
  if (bind.startsWith("unix:")) {
    if (bind.length === 5) throw new UsageError("unix: needs a socket path");
    return { path: bind.slice(5) };
  }
  const colon = bind.lastIndexOf(":");
  if (colon === -1) {
    throw new UsageError(`--bind wants HOST:PORT, got ${bind}`);
  }
  const host = bind.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  return {
    hostname: host || "0.0.0.0",
    port: parsePort(bind.slice(colon + 1)),
  };
}

function parseCount(flag: string, text: string, least: number): number {
  if (!/^\d+$/.test(text) || Number(text) < least) {
    throw new UsageError(
      `${flag} wants a whole number ≥ ${least}, got ${text}`,
    );
  }
  return Number(text);
}

function parseSeconds(flag: string, text: string): number {
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(seconds)) {
    throw new UsageError(`${flag} wants seconds (a number ≥ 0), got ${text}`);
  }
  return seconds;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new UsageError(
      `the port must be a number from 0 to 65535, got ${text}`,
    );
  }
  return port;
}

/** `/static=public` → its URL prefix and an existing directory. */
function parseStatic(text: string): [string, string] {
  const equals = text.indexOf("=");
  const [prefix, dir] = [text.slice(0, equals), text.slice(equals + 1)];
  if (equals === -1 || !prefix.startsWith("/") || dir === "") {
    throw new UsageError(`--static wants URL_PREFIX=DIR, got ${text}`);
  }
  let isDirectory = false;
  try {
    isDirectory = Deno.statSync(dir).isDirectory;
  } catch {
    // Said below, as for a file.
  }
  if (!isDirectory) {
    throw new UsageError(`--static ${text}: ${dir} is not a directory`);
  }
  return [prefix, dir];
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

/** What loadPython uses of python.ts, written here to keep it out of the graph. */
interface PythonModule {
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

export async function main(args: string[]): Promise<number> {
  try {
    const command = parseCommand(args);
    if (command.help) {
      console.log(USAGE);
      return 0;
    }
    if (command.workers > 1) return await runWorkers(command);
    return await serveCommand(command, await application(command));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`server.ts: error: ${error.message.split("\n")[0]}`);
    return 2;
  }
}

/** The application the command names, behind the proxies it trusts. */
export async function application(command: Command): Promise<Application> {
  let app = command.module === undefined
    ? demoApp
    : await loadApplication(command.module, command.pythonPath);
  if (Object.keys(command.statics).length > 0) {
    app = sharedData(app, command.statics);
  }
  const n = command.proxyHops;
  return n === 0
    ? app
    : proxyFix(app, { for: n, proto: n, host: n, port: n, prefix: n });
}

/** What the Serving line calls the application. */
export function described(command: Command): string {
  return command.module ?? "the demo app";
}
