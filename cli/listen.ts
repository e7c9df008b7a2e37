/**
 * The command line's servers in one process: one `Deno.serve` per `-b`
 * address (Deno listens once per call), all running the same application,
 * over TLS when given a certificate, stopped gracefully together.
 *
 * @module
 */

import type { Application, LogWriter } from "../types.ts";
import { type Bind, type Command, described, UsageError } from "./command.ts";
import { Drain, stopGracefully } from "./drain.ts";
import { errorLog, openLogs, quietLegacyNotice, say } from "./logs.ts";
import { flushLogs, standardOutput } from "../gateway/log.ts";
import { serve } from "../gateway/serve.ts";

/**
 * How a worker of the supervisor serves: on ports it shares with the other
 * workers (`SO_REUSEPORT`: Linux gives each new connection to one of
 * them), telling the supervisor when it listens instead of the operator.
 */
export interface AsWorker {
  /** Called once every address listens and signals are handled. */
  ready(): void;
  /** Resolves when the supervisor is gone: then stop as on SIGTERM. */
  orphaned: Promise<void>;
}

/**
 * Serves `app` on every address of `command` until SIGTERM or Ctrl+C (or,
 * as a worker, until the supervisor is gone).
 */
export async function serveCommand(
  command: Command,
  app: Application,
  worker?: AsWorker,
): Promise<number> {
  quietLegacyNotice();
  const drain = new Drain();
  const tls = await readTls(command);
  const accessFile = openLogs(command);
  const servers: Listener[] = [];
  try {
    for (const bind of command.binds) {
      const wrapped = drain.wrap(app);
      servers.push(
        new Listener(
          bind,
          (bind) =>
            listenOn(bind, wrapped, command, {
              tls,
              shared: worker !== undefined,
              accessFile,
            }),
        ),
      );
    }
  } catch (error) {
    await Promise.all(servers.map((server) => server.shutdown()));
    throw error;
  }
  const stop = async () => {
    await Promise.all(servers.map((server) => server.shutdown()));
    for (const bind of command.binds) {
      if ("path" in bind) await Deno.remove(bind.path).catch(() => {});
    }
  };
  // Signals are handled from here on: only then say the server is ready.
  const stopped = stopGracefully(drain, {
    timeout: command.gracefulTimeout,
    stop,
    say: (line, warning) => say(line, warning ? "warning" : "info"),
    also: worker?.orphaned,
  });
  if (worker) {
    worker.ready();
    await stopped;
    await flushLogs();
    return 0;
  }
  const where = command.binds.map((bind, i) =>
    address(bind, servers[i].addr, tls !== undefined)
  );
  console.log(
    `Serving ${described(command)} on ${where.join(", ")} (Ctrl+C to stop)`,
  );
  await stopped;
  // Behind the access log, which must not be waited for forever.
  standardOutput("Stopped.");
  await flushLogs();
  return 0;
}

/**
 * One `-b` address, kept listening. Deno's accept loop dies of an error
 * such as `Too many open files` (its `finished` rejects, and nothing else
 * would listen again); the listener then says so, at most once a second,
 * and listens again a second later, as nginx pauses accepting and goes on.
 */
class Listener {
  #server: Deno.HttpServer;
  #listen: (bind: Bind) => Deno.HttpServer;
  #bind: Bind;
  #where: string;
  #stopping = false;
  #retry?: ReturnType<typeof setTimeout>;
  #said = -Infinity;

  constructor(bind: Bind, listen: (bind: Bind) => Deno.HttpServer) {
    this.#listen = listen;
    const server = this.#server = this.#watch(listen(bind));
    if ("path" in bind) {
      this.#bind = bind;
      this.#where = `unix:${bind.path}`;
    } else {
      // Listening again means the same port, also when the first was any.
      const { port } = server.addr as Deno.NetAddr;
      this.#bind = { ...bind, port };
      this.#where = `${bind.hostname}:${port}`;
    }
  }

  get addr(): Deno.Addr {
    return this.#server.addr;
  }

  #watch(server: Deno.HttpServer): Deno.HttpServer {
    server.finished.catch((error) => this.#died(error));
    return server;
  }

  #died(error: unknown): void {
    if (this.#stopping) return;
    const now = performance.now();
    if (now - this.#said >= RETRY_MS) {
      this.#said = now;
      say(
        `[wsgi] the listener on ${this.#where} failed (${
          reason(error)
        }); listening again in ${RETRY_MS / 1000} s`,
        "error",
      );
    }
    this.#retry = setTimeout(() => {
      if (this.#stopping) return;
      try {
        this.#server = this.#watch(this.#listen(this.#bind));
      } catch (error) {
        this.#died(error);
      }
    }, RETRY_MS);
  }

  async shutdown(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#retry);
    await this.#server.shutdown();
  }
}

const RETRY_MS = 1000;

interface Tls {
  cert: string;
  key: string;
}

async function readTls(command: Command): Promise<Tls | undefined> {
  if (command.certfile === undefined || command.keyfile === undefined) return;
  const read = async (flag: string, path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      throw new UsageError(`${flag}: cannot read ${path}: ${reason(error)}`);
    }
  };
  return {
    cert: await read("--certfile", command.certfile),
    key: await read("--keyfile", command.keyfile),
  };
}

/** How each listener of a command serves, besides its address. */
interface Serving {
  tls?: Tls;
  /** A worker of the supervisor, on ports shared with the others. */
  shared: boolean;
  /** The access log's file, when not standard output. */
  accessFile?: LogWriter;
}

function listenOn(
  bind: Bind,
  app: Application,
  command: Command,
  { tls, shared, accessFile }: Serving,
): Deno.HttpServer {
  const options = {
    // `--unstable-net` in Deno 2.9 (the supervisor runs workers with it).
    ...shared && { reusePort: true, multiprocess: command.workers > 1 },
    accessLog: command.accessLog && (accessFile ?? true),
    errors: errorLog,
    trace: command.trace,
    ...command.tuning,
    onListen() {},
    ...tls,
  };
  try {
    if ("path" in bind) {
      removeStaleSocket(bind.path);
      const server = serve(app, { ...options, path: bind.path });
      // As gunicorn's umask 0 makes it: a proxy running as another user
      // (nginx's www-data, nobody) can connect; the folder guards it.
      Deno.chmodSync(bind.path, 0o777);
      return server;
    }
    return serve(app, { ...options, ...bind });
  } catch (error) {
    const where = "path" in bind
      ? `unix:${bind.path}`
      : `${bind.hostname}:${bind.port}`;
    throw new UsageError(`cannot listen on ${where}: ${reason(error)}`);
  }
}

/** A socket file left by a server that is gone, as gunicorn clears it. */
function removeStaleSocket(path: string): void {
  try {
    if (Deno.lstatSync(path).isSocket) Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** `http://localhost:8000/` (the host as asked, the port as bound), or `unix:PATH`. */
export function address(bind: Bind, addr: Deno.Addr, tls: boolean): string {
  if ("path" in bind) return `unix:${bind.path}`;
  const host = bind.hostname.includes(":")
    ? `[${bind.hostname}]`
    : bind.hostname;
  return `${tls ? "https" : "http"}://${host}:${(addr as Deno.NetAddr).port}/`;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
