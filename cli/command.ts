/**
 * The command line, like gunicorn's and `python -m wsgiref.simple_server`:
 * `module:name` on the command line, where to listen, the access log and
 * the trace.
 *
 * @module
 */

import type { GatewayOptions } from "../types.ts";
import { SETTINGS, type Tuning } from "../gateway/options.ts";
import { PYTHON_DEFAULTS } from "../python/protocol.ts";

/** The command line's own defaults, each written once. */
export const DEFAULTS = {
  host: "localhost",
  port: 8000,
  workers: 1,
  proxyHops: 0,
  gracefulTimeout: 30,
  timeout: 30,
  forwardedAllowIps: "127.0.0.1,::1",
  logLevel: "info",
  maxRequests: 0,
  maxRequestsJitter: 0,
} as const;

/** gunicorn's log levels, in order (cli/logs.ts says what each keeps). */
export const LEVELS = ["debug", "info", "warning", "error", "critical"];

/** One of {@linkcode LEVELS}. */
export type Level = "debug" | "info" | "warning" | "error" | "critical";

/** Where `--help` lists a flag, in gunicorn's order of its settings. */
const GROUPS = {
  app: "The application",
  socket: "Where to listen",
  workers: "Workers",
  debugging: "Debugging",
  security: "Trust",
  logging: "Logging",
  process: "The process",
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
      "N worker processes sharing the port, under a supervisor",
      `that restarts any that exits (default ${DEFAULTS.workers}: one`,
      "process, no supervisor); needs --allow-run=deno",
    ],
  },
  {
    names: "--timeout S",
    group: "workers",
    help: [
      "kill and restart a worker whose event loop is silent",
      `this long (default ${DEFAULTS.timeout}; 0 off); given, it runs the`,
      "supervisor even for one worker",
    ],
  },
  {
    names: "--max-requests N",
    group: "workers",
    help: [
      "replace a worker gracefully after it has served N requests",
      `(default ${DEFAULTS.maxRequests}: never); runs the supervisor even for one worker`,
    ],
  },
  {
    names: "--max-requests-jitter J",
    group: "workers",
    help: [
      "add 0 to J to each worker's N at random, so workers are",
      `not all replaced at once (default ${DEFAULTS.maxRequestsJitter})`,
    ],
  },
  {
    names: "--threads K",
    group: "workers",
    help: [
      "K Python interpreters per process, each in a thread of",
      `its own, one request each at a time (default ${PYTHON_DEFAULTS.threads}; ~200 MiB`,
      "each); for a .py app only",
    ],
  },
  {
    names: "--queue N",
    group: "workers",
    help: [
      "requests that may wait for a Python interpreter, else",
      `503 (default ${PYTHON_DEFAULTS.queue})`,
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
    names: "--forwarded-allow-ips LIST",
    group: "security",
    help: [
      "the proxies (addresses, comma-separated, or *) whose headers",
      `--proxy-hops trusts (default ${DEFAULTS.forwardedAllowIps}; a unix`,
      "socket's peer is always trusted)",
    ],
  },
  {
    names: "--no-access-log",
    group: "logging",
    help: ["no access log (it is on by default)"],
  },
  {
    names: "--reload",
    group: "debugging",
    help: [
      "for development, not for production: on a change to the",
      "app's .ts/.js/.py files (its folder, recursively) start",
      "new workers with the new code (runs the supervisor); a .py",
      "served alone is loaded again in its own interpreter",
    ],
  },
  {
    names: "--reload-extra-file FILE",
    group: "debugging",
    help: ["with --reload, watch FILE too (repeatable)"],
  },
  {
    names: "--access-logfile PATH",
    group: "logging",
    help: ["the access log's file, or - for standard output (the default)"],
  },
  {
    names: "--error-logfile PATH",
    group: "logging",
    help: [
      "the server's own lines and wsgi.errors: a file, or - for",
      "standard error (the default); both files reopen on SIGUSR1",
    ],
  },
  {
    names: "--log-level LEVEL",
    group: "logging",
    help: [
      `${LEVELS.join(", ")} (default ${DEFAULTS.logLevel}):`,
      "the server's lines kept in the error log",
    ],
  },
  {
    names: "-c, --config FILE",
    group: "process",
    help: [
      "settings from a file: a .ts/.js module's default export, or",
      "JSON, with the flags' names (workers, accessLogfile, …);",
      "the command line's flags win",
    ],
  },
  {
    names: "--chdir DIR",
    group: "process",
    help: ["change to DIR before loading the application"],
  },
  {
    names: "--pid FILE",
    group: "process",
    help: ["write the process id to FILE, removed at exit"],
  },
  {
    names: "--umask MASK",
    group: "process",
    help: [
      "the process's umask, in octal (e.g. 007): it shapes every file",
      "the app creates too; needs --allow-sys",
    ],
  },
  {
    names: "--check-config",
    group: "process",
    help: [
      "load the application, then exit (0 if it loaded) without",
      "listening, as gunicorn's: its module's code runs, so a .py",
      "file can apply a database's migrations",
    ],
  },
  { names: "--version", group: "process", help: ["the version, and Deno's"] },
  { names: "-h, --help", group: "process", help: ["this text"] },
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
    "",
    "With -w N (N ≥ 2), --timeout, --max-requests or --reload (of anything",
    "but a lone .py), a supervisor starts the worker processes and needs",
    "--allow-run=deno too; without, one process serves.",
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

/**
 * Every flag's long name and its short one, if any: the command line's and
 * the gateway's, for a config file's settings.
 */
export function flagNames(): { long: string; short?: string }[] {
  const names = [
    ...FLAGS.map((flag) => flag.names),
    ...SETTINGS.flatMap((setting) => "flag" in setting ? [setting.flag] : []),
  ];
  return names.flatMap((text) => {
    const long = /--[\w-]+/.exec(text)?.[0];
    const short = /^-\w\b/.exec(text)?.[0];
    return long ? [{ long, short }] : [];
  });
}

/** The limit and timeout flags, and the option each one sets. */
const TUNING: Record<string, Tuning> = Object.fromEntries(
  SETTINGS.filter((setting): setting is Tuning => "default" in setting)
    .map((setting) => [setting.flag, setting]),
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
  /**
   * Seconds a worker's heartbeat may stay silent; undefined unless given,
   * which alone (with one worker) asks for the supervisor.
   */
  timeout?: number;
  /** Requests a worker serves before it is replaced; 0: never. */
  maxRequests: number;
  /** At most this many more, drawn for each worker. */
  maxRequestsJitter: number;
  /** Whether a change to the app's files replaces the workers. */
  reload: boolean;
  /** Files watched beside the app's folder, from each --reload-extra-file. */
  reloadExtraFiles: string[];
  certfile?: string;
  keyfile?: string;
  accessLog: boolean;
  trace: boolean;
  help: boolean;
  version: boolean;
  /** Load the application, then exit without listening. */
  checkConfig: boolean;
  module?: string;
  /** Peers whose proxy headers are trusted (`*`: any). */
  forwardedAllowIps: string[];
  accessLogfile?: string;
  errorLogfile?: string;
  logLevel: Level;
  config?: string;
  chdir?: string;
  pid?: string;
  umask?: number;
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
  const { timeout: _, forwardedAllowIps, logLevel, ...defaults } = DEFAULTS;
  const command: Command = {
    ...defaults,
    forwardedAllowIps: forwardedAllowIps.split(","),
    logLevel,
    binds: [],
    accessLog: true,
    trace: false,
    help: false,
    version: false,
    checkConfig: false,
    statics: {},
    pythonPath: [],
    reload: false,
    reloadExtraFiles: [],
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
      case "--version":
        command.version = true;
        break;
      case "--check-config":
        command.checkConfig = true;
        break;
      case "-c":
      case "--config":
        command.config = value();
        break;
      case "--chdir":
        command.chdir = value();
        break;
      case "--pid":
        command.pid = value();
        break;
      case "--umask": {
        const mask = value();
        if (!/^(0o?)?[0-7]{1,4}$/.test(mask)) {
          throw new UsageError(
            `--umask wants an octal mask such as 007, got ${mask}`,
          );
        }
        command.umask = parseInt(mask.replace(/^0o/, ""), 8);
        break;
      }
      case "--access-logfile":
        command.accessLogfile = value();
        command.accessLog = true;
        break;
      case "--error-logfile":
        command.errorLogfile = value();
        break;
      case "--log-level": {
        const level = value().toLowerCase();
        if (!LEVELS.includes(level)) {
          throw new UsageError(
            `--log-level wants one of ${LEVELS.join(", ")}, got ${level}`,
          );
        }
        command.logLevel = level as Level;
        break;
      }
      case "--forwarded-allow-ips":
        command.forwardedAllowIps = value().split(",").map((ip) => ip.trim())
          .filter(Boolean);
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
      case "--timeout":
        command.timeout = parseSeconds(flag, value());
        break;
      case "--max-requests":
        command.maxRequests = parseCount(flag, value(), 0);
        break;
      case "--max-requests-jitter":
        command.maxRequestsJitter = parseCount(flag, value(), 0);
        break;
      case "--reload":
        command.reload = true;
        break;
      case "--reload-extra-file":
        command.reloadExtraFiles.push(parseFile(flag, value()));
        break;
      case "--certfile":
        command.certfile = value();
        break;
      case "--keyfile":
        command.keyfile = value();
        break;
      default:
        if (Object.hasOwn(TUNING, flag)) {
          // Written as a person writes them: 0x10, 1e3 or 1e309 are refused.
          const { key, unit } = TUNING[flag];
          command.tuning[key] = unit === "seconds"
            ? parseSeconds(flag, value())
            : parseCount(flag, value(), 0);
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
  if (command.reloadExtraFiles.length > 0 && !command.reload) {
    throw new UsageError("--reload-extra-file needs --reload");
  }
  if ((command.certfile === undefined) !== (command.keyfile === undefined)) {
    throw new UsageError("--certfile and --keyfile go together");
  }
  return command;
}

/**
 * gunicorn's forms: `HOST:PORT`, `[::1]:PORT`, `:PORT` (every interface),
 * `HOST` or `[::1]` alone (port 8000), `unix:PATH`.
 */
function parseBind(bind: string): Bind {
  if (bind.startsWith("unix:")) {
    if (bind.length === 5) throw new UsageError("unix: needs a socket path");
    return { path: bind.slice(5) };
  }
  // A bracketed IPv6 address, or a name with no colon: the host alone.
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(bind);
  const colon = bind.lastIndexOf(":");
  const [host, port] = bracketed
    ? [bracketed[1], bracketed[2]]
    : colon === -1 || bind.indexOf(":") !== colon
    ? [bind, undefined]
    : [bind.slice(0, colon), bind.slice(colon + 1)];
  if (bracketed && host === "") {
    throw new UsageError(`--bind wants [IPv6]:PORT, got ${bind}`);
  }
  return {
    hostname: host || "0.0.0.0",
    port: port === undefined ? DEFAULTS.port : parsePort(port),
  };
}

function parseCount(flag: string, text: string, least: number): number {
  const count = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(count) || count < least) {
    throw new UsageError(
      `${flag} wants a whole number ≥ ${least}, got ${text}`,
    );
  }
  return count;
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

/** A file that exists, to be watched. */
function parseFile(flag: string, path: string): string {
  try {
    if (Deno.statSync(path).isFile) return path;
  } catch {
    // Said below, as for a folder.
  }
  throw new UsageError(`${flag} ${path}: no such file`);
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
