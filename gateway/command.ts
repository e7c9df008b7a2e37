/**
 * The command line, like gunicorn's and `python -m wsgiref.simple_server`:
 * `module:name` on the command line, where to listen, the access log and
 * the trace.
 *
 * @module
 */

import type { Application, GatewayOptions } from "../types.ts";
import { flushStandardOutput, standardOutput } from "./log.ts";
import { demoApp, makeServer, type WSGIServer } from "./simple_server.ts";

const USAGE = `Serves a WSGI application with Deno.

Usage:
  deno run --allow-net --allow-read server.ts [options] [module[:name]]

  module[:name]        a file that exports the application: the export called
                       name, or the default export; with no module, a demo app
                       that shows the request's environ
  -b, --bind HOST:PORT where to listen (default localhost:8000)
  --host HOST          the host alone
  --port PORT          the port alone
  --access-log         one Common Log Format line per request (the default)
  --no-access-log      no access log
  --trace              print every step of every request's flow
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
class UsageError extends Error {}

interface Command {
  host: string;
  port: number;
  accessLog: boolean;
  trace: boolean;
  help: boolean;
  module?: string;
  tuning: Pick<GatewayOptions, (typeof TUNING)[keyof typeof TUNING]>;
}

function parseCommand(args: string[]): Command {
  const command: Command = {
    host: "localhost",
    port: 8000,
    accessLog: true,
    trace: false,
    help: false,
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
      case "--bind": {
        const bind = value();
        const colon = bind.lastIndexOf(":");
        if (colon === -1) {
          throw new UsageError(`--bind wants HOST:PORT, got ${bind}`);
        }
        command.host = bind.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
        command.port = parsePort(bind.slice(colon + 1));
        break;
      }
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
  return command;
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

/** `path/app.ts:name` → the application it exports. */
async function loadApplication(spec: string): Promise<Application> {
  const [, path, name] = /^(.*?)(?::([A-Za-z_$][\w$]*))?$/.exec(spec)!;
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
    const app = command.module === undefined
      ? demoApp
      : await loadApplication(command.module);
    const httpd = listen(command, app);
    const what = command.module ?? "the demo app";
    const host = command.host.includes(":")
      ? `[${command.host}]`
      : command.host;
    const where = `http://${host}:${httpd.serverPort}/`;
    // Ctrl+C is handled from here on: only then say the server is ready.
    const serving = httpd.serveForever();
    console.log(`Serving ${what} on ${where} (Ctrl+C to stop)`);
    await serving;
    // Behind the access log, which must not be waited for forever.
    standardOutput("Stopped.");
    await flushStandardOutput();
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`server.ts: error: ${error.message.split("\n")[0]}`);
    return 2;
  }
}

function listen(command: Command, app: Application): WSGIServer {
  try {
    return makeServer(command.host, command.port, app, {
      accessLog: command.accessLog,
      trace: command.trace,
      ...command.tuning,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      `cannot listen on ${command.host}:${command.port}: ${reason}`,
    );
  }
}
