/**
 * The command line, like gunicorn's and `python -m wsgiref.simple_server`:
 * `module:name` on the command line, where to listen, the access log and
 * the trace.
 *
 * @module
 */

import type { GatewayOptions } from "../types.ts";
import { SETTINGS, type Tuning } from "../gateway/options.ts";

/** The command line's own defaults, each written once. */
export const DEFAULTS = {
  host: "localhost",
  port: 8000,
  workers: 1,
  proxyHops: 0,
  gracefulTimeout: 30,
} as const;

/** Where `--help` lists a flag, in gunicorn's order of its settings. */
const GROUPS = {
  app: "The application",
  socket: "Where to listen",
  workers: "Workers",
  security: "Trust",
  logging: "Logging",
  limits: "Limits (bytes; 0 turns one off)",
  timeouts: "Timeouts (seconds; 0 turns one off)",
} as const;

/** A flag of the command line's own, for `--help`. */
interface Flag {
  names: string;
  group: keyof typeof GROUPS;
  /** Its lines of help; the first beside the names. */
  help: string[];
}

/** The command line's own flags; the gateway's come from its table. */
const FLAGS: Flag[] = [
  {
    names: "module[:name]",
    group: "app",
    help: [
      "a file that exports the application: the export called",
      "name, or the default export; with no module, a demo app",
      "that shows the request's environ. A .py file runs on",
      "Pyodide: name is its callable (default: application)",
    ],
  },
  {
    names: "--pythonpath DIR",
    group: "app",
    help: ["a folder of Python packages for a .py app (repeatable)"],
  },
  {
    names: "--static PREFIX=DIR",
    group: "app",
    help: [
      "serve the files in DIR under the URL PREFIX, beside the",
      "application (which still gets every other path, and",
      "paths under PREFIX with no file); repeatable",
    ],
  },
  {
    names: "-b, --bind ADDRESS",
    group: "socket",
    help: [
      `where to listen (default ${DEFAULTS.host}:${DEFAULTS.port}): HOST:PORT,`,
      ":PORT for every interface, or unix:PATH; repeat it to",
      "listen on several",
    ],
  },
  { names: "--host HOST", group: "socket", help: ["the host alone"] },
  { names: "--port PORT", group: "socket", help: ["the port alone"] },
  {
    names: "--certfile FILE",
    group: "socket",
    help: ["serve HTTPS (and HTTP/2) with this PEM certificate"],
  },
  {
    names: "--keyfile FILE",
    group: "socket",
    help: ["and this PEM private key"],
  },
  {
    names: "-w, --workers N",
    group: "workers",
    help: [
      "N isolates (one per core) under deno serve --parallel",
      `(default ${DEFAULTS.workers}; needs --allow-run=deno)`,
    ],
  },
  {
    names: "--threads K",
    group: "workers",
    help: [
      "K Python interpreters per process, each in a thread of",
      "its own, one request each at a time (default 1; ~200 MiB",
      "each); for a .py app only",
    ],
  },
  {
    names: "--queue N",
    group: "workers",
    help: [
      "requests that may wait for a Python interpreter, else",
      "503 (default 100)",
    ],
  },
  {
    names: "--graceful-timeout S",
    group: "workers",
    help: [
      "seconds requests in flight get after SIGTERM or Ctrl+C",
      `before they are ended (default ${DEFAULTS.gracefulTimeout})`,
    ],
  },
  {
    names: "--proxy-hops N",
    group: "security",
    help: [
      "trust N proxies' X-Forwarded-For, -Proto, -Host, -Port",
      `and -Prefix headers (default ${DEFAULTS.proxyHops}: trust none)`,
    ],
  },
  {
    names: "--no-access-log",
    group: "logging",
    help: ["no access log (it is on by default)"],
  },
  { names: "-h, --help", group: "app", help: ["this text"] },
];

/** The usage `--help` prints: the command line's flags and the gateway's. */
export function usage(): string {
  const rows: Flag[] = [...FLAGS];
  for (const setting of SETTINGS) {
    if (!("flag" in setting)) continue;
    const number = "default" in setting;
    const unit = "unit" in setting && setting.unit === "seconds" ? "S" : "N";
    const fallback = !number
      ? ""
      : setting.default === 0
      ? " (off)"
      : ` (${setting.default})`;
    rows.push({
      names: number ? `${setting.flag} ${unit}` : setting.flag,
      group: setting.group as Flag["group"],
      help: [`${setting.help}${fallback}`],
    });
  }
  const width = Math.max(...rows.map((row) => row.names.length)) + 2;
  const lines = [
    "Serves a WSGI application with Deno.",
    "",
    "Usage:",
    "  deno run --allow-net --allow-read server.ts [options] [module[:name]]",
  ];
  for (const [group, title] of Object.entries(GROUPS)) {
    lines.push("", `${title}:`);
    for (const row of rows.filter((row) => row.group === group)) {
      row.help.forEach((help, i) =>
        lines.push(`  ${(i === 0 ? row.names : "").padEnd(width)}${help}`)
      );
    }
  }
  return lines.join("\n");
}

/** The limit and timeout flags, and the option each one sets. */
const TUNING: Record<string, Tuning["key"]> = Object.fromEntries(
  SETTINGS.filter((setting): setting is Tuning => "default" in setting)
    .map((setting) => [setting.flag, setting.key]),
);

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
  /** Python interpreters per process, and requests that may wait for one. */
  threads?: number;
  queue?: number;
  tuning: Pick<GatewayOptions, Tuning["key"]>;
}

export function parseCommand(args: string[]): Command {
  const command: Command = {
    ...DEFAULTS,
    binds: [],
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
      case "--threads":
        command.threads = parseCount(flag, value(), 1);
        break;
      case "--queue":
        command.queue = parseCount(flag, value(), 0);
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
        if (Object.hasOwn(TUNING, flag)) {
          const amount = Number(value());
          if (!(amount >= 0)) {
            throw new UsageError(`${flag} wants a number from 0 up`);
          }
          command.tuning[TUNING[flag]] = amount;
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

/** What the Serving line calls the application. */
export function described(command: Command): string {
  return command.module ?? "the demo app";
}
