/**
 * The supervisor, gunicorn's arbiter on Deno: a process that serves
 * nothing itself. It starts N worker processes (`deno run cli/worker.ts`)
 * that listen on the same ports with `SO_REUSEPORT`, restarts any that
 * exits (with a backoff, so a worker that dies at once does not spin),
 * kills one whose heartbeat stops for `--timeout` seconds, and on SIGTERM
 * or Ctrl+C passes the signal on and waits for them within the grace
 * period. Each worker watches its channel to the supervisor (cli/channel.ts)
 * and stops when it closes, so no worker outlives the supervisor however it
 * dies.
 *
 * A planned replacement (a worker past its --max-requests, every worker
 * on a --reload change) starts the new worker first and stops the old one
 * gracefully only once the new one listens: with one worker the port is
 * never without a listener, and the old one keeps serving meanwhile (or
 * for good, when the new one fails to load).
 *
 * @module
 */

import {
  type Command,
  DEFAULTS,
  described,
  type Level,
  UsageError,
} from "./command.ts";
import { type Handover, WORKER_ENV, WorkerChannels } from "./channel.ts";
import { CLOSE_MS, STOP_SIGNALS } from "./drain.ts";
import { address } from "./listen.ts";
import { openLogs, say as log } from "./logs.ts";
import { type Watch, watchApp } from "./reload.ts";

/** How long a worker's reason for failing may follow its exit. */
const REASON_MS = 5000;

/** The first wait before a worker is started again; it doubles up to MAX. */
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 10_000;
/** A worker that lived this long was well: its slot's wait starts over. */
const WELL_MS = 10_000;
/** How long past the grace period a worker may take before it is killed. */
const STOP_MARGIN_MS = CLOSE_MS + 1000;

/** One worker process, from its start to its exit. */
interface Worker {
  /** Its number, 1 to N, kept by the workers that replace it. */
  slot: number;
  child: Deno.ChildProcess;
  started: number;
  /** When it was last heard from; undefined until it has connected. */
  heard?: number;
  listening: PromiseWithResolvers<void>;
  ready: boolean;
  killed: boolean;
  /** Requests it serves before it asks to be replaced; 0: never. */
  limit: number;
  /** Started to replace a worker still serving: if it fails, the old one stays. */
  trial: boolean;
  /** Why it did not load, as it said on its channel (a trial worker). */
  failure: PromiseWithResolvers<string>;
  /** Being replaced: its exit is planned, and no restart follows. */
  retiring: boolean;
}

/**
 * The option that asks for worker processes, as the user gave it, or
 * nothing when one process serves.
 */
export function supervisedBy(command: Command): string | undefined {
  if (command.workers > 1) return `-w ${command.workers}`;
  if (command.timeout !== undefined) return "--timeout";
  if (command.maxRequests > 0) return "--max-requests";
  if (command.reload) return "--reload";
}

/**
 * Runs `command` under the supervisor; resolves to the exit status. Every
 * port is checked (and a port 0 chosen) here first, so that a port in use
 * is said once, in one line, before any worker starts.
 */
export async function supervise(command: Command): Promise<number> {
  // The supervisor's own lines go where the workers' do.
  openLogs(command);
  const claimed = claimPorts(command);
  // Elsewhere SO_REUSEPORT does not spread connections (the last process
  // to listen would take them all): one worker, still supervised.
  const count = Deno.build.os === "linux" ? command.workers : 1;
  if (count < command.workers) {
    say(
      `-w ${command.workers}: worker processes share a port only on Linux; running 1`,
      "warning",
    );
  }
  return await new Supervisor({ ...claimed, workers: count }).run();
}

function claimPorts(command: Command): Command {
  const binds = command.binds.map((bind) => {
    if ("path" in bind) {
      throw new UsageError(
        `${
          supervisedBy(command)
        } starts worker processes, which can share a TCP port but not unix:${bind.path}: give -b HOST:PORT`,
      );
    }
    try {
      // Without SO_REUSEPORT, so that a server already there (even ours,
      // with it) is found rather than joined.
      const listener = Deno.listen({
        hostname: bind.hostname,
        port: bind.port,
      });
      listener.close();
      return { ...bind, port: (listener.addr as Deno.NetAddr).port };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new UsageError(
        `cannot listen on ${bind.hostname}:${bind.port}: ${reason}`,
      );
    }
  });
  return { ...command, binds };
}

class Supervisor {
  readonly #command: Command;
  readonly #count: number;
  readonly #timeoutMs: number;
  readonly #channels: WorkerChannels;
  /** The workers alive, by pid. */
  readonly #workers = new Map<number, Worker>();
  /** Each slot's next wait before a restart. */
  readonly #delays: number[];
  readonly #restarts = new Set<ReturnType<typeof setTimeout>>();
  #serving = false;
  #stopping = false;
  /** Planned replacements, one at a time. */
  #replacements: Promise<void> = Promise.resolve();
  #reloadQueued = false;
  #watcher?: Watch;
  readonly #allGone = Promise.withResolvers<void>();

  constructor(command: Command) {
    this.#command = command;
    this.#count = command.workers;
    this.#timeoutMs = (command.timeout ?? DEFAULTS.timeout) * 1000;
    this.#delays = Array(this.#count + 1).fill(FIRST_DELAY_MS);
    try {
      this.#channels = new WorkerChannels((pid, message, reason) => {
        const worker = this.#workers.get(pid);
        if (worker === undefined) return;
        worker.heard = performance.now();
        if (message === "ready" && !worker.ready) {
          worker.ready = true;
          worker.listening.resolve();
        } else if (message === "recycle") {
          this.#recycle(worker);
        } else if (message === "failed") {
          worker.failure.resolve(reason ?? "");
        }
      });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotCapable)) throw error;
      throw new UsageError(
        "the supervisor talks to its workers on 127.0.0.1: run server.ts with --allow-net",
      );
    }
  }

  async run(): Promise<number> {
    const listeners = STOP_SIGNALS.map((signal) =>
      [signal, () => this.#signal(signal)] as const
    );
    for (const [signal, listener] of listeners) {
      Deno.addSignalListener(signal, listener);
    }
    const watchdog = this.#watch();
    try {
      // The first worker alone: an application that fails to load says so
      // once, not once per worker.
      let failed = await this.#boot([this.#start(1)]);
      if (failed === undefined && this.#count > 1) {
        const rest = Array.from({ length: this.#count - 1 }, (_, i) => i + 2);
        failed = await this.#boot(rest.map((slot) => this.#start(slot)));
      }
      if (failed !== undefined && !this.#stopping) {
        // It said why on standard error; the others go too.
        this.#stop();
        this.#killAll();
        await this.#allGone.promise;
        return failed.code || 1;
      }
      if (!this.#stopping) {
        this.#serving = true;
        const tls = this.#command.certfile !== undefined;
        const where = this.#command.binds.map((bind) =>
          address(bind, { transport: "tcp", ...bind } as Deno.NetAddr, tls)
        );
        console.log(
          `Serving ${described(this.#command)} on ${where.join(", ")} with ${
            plural(this.#count, "worker")
          } (Ctrl+C to stop)`,
        );
        if (this.#command.reload) {
          this.#watcher = watchApp(this.#command, (path) => this.#reload(path));
        }
      }
      await this.#allGone.promise;
      console.log("Stopped.");
      return 0;
    } finally {
      this.#watcher?.close();
      clearInterval(watchdog);
      for (const [signal, listener] of listeners) {
        Deno.removeSignalListener(signal, listener);
      }
      this.#channels.close();
    }
  }

  /** Resolves once every one of `workers` listens, or to the status of the first to exit before. */
  async #boot(workers: Worker[]): Promise<Deno.CommandStatus | undefined> {
    return await Promise.race([
      Promise.all(workers.map((worker) => worker.listening.promise))
        .then(() => undefined),
      ...workers.map((worker) => worker.child.status),
    ]);
  }

  #start(slot: number, trial = false): Worker {
    const { maxRequests, maxRequestsJitter } = this.#command;
    // gunicorn's draw: N plus 0 to J, so the workers part ways.
    const limit = maxRequests === 0
      ? 0
      : maxRequests + Math.floor(Math.random() * (maxRequestsJitter + 1));
    const handover: Handover = {
      command: this.#command,
      port: this.#channels.port,
      token: this.#channels.token,
      // Several beats per timeout, so that one late timer is no death.
      beatMs: Math.max(50, Math.min(1000, this.#timeoutMs / 4 || 1000)),
      maxRequests: limit,
      trial,
    };
    let child: Deno.ChildProcess;
    try {
      // By name, as `--allow-run=deno` grants it. Detached (a session of
      // its own): a terminal's Ctrl+C reaches the supervisor alone, which
      // passes it on once.
      child = new Deno.Command("deno", {
        args: [
          ...workerFlags(this.#command),
          new URL("./worker.ts", import.meta.url).href,
        ],
        env: { [WORKER_ENV]: JSON.stringify(handover) },
        stdin: "null",
        detached: true,
      }).spawn();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotCapable)) throw error;
      throw new UsageError(
        `${
          supervisedBy(this.#command)
        } starts worker processes: run server.ts with --allow-run=deno`,
      );
    }
    const worker: Worker = {
      slot,
      child,
      started: performance.now(),
      listening: Promise.withResolvers(),
      ready: false,
      killed: false,
      limit,
      trial,
      failure: Promise.withResolvers(),
      retiring: false,
    };
    this.#workers.set(child.pid, worker);
    say(`worker ${slot} (pid ${child.pid}) started`, "info");
    child.status.then((status) => this.#exited(worker, status));
    return worker;
  }

  #exited(worker: Worker, status: Deno.CommandStatus): void {
    this.#workers.delete(worker.child.pid);
    const how =
      `worker ${worker.slot} (pid ${worker.child.pid}) exited with code ${status.code}${
        status.signal ? ` (signal ${status.signal})` : ""
      }`;
    if (!this.#stopping) {
      // A replacement that never listened: #replace says why, once.
      if (worker.trial && !worker.ready) return;
      if (worker.retiring) {
        say(`${how}: replaced`, "info");
        return;
      }
    }
    // While booting, a worker that never listened stops the start instead.
    if (this.#stopping || !(this.#serving || worker.ready)) {
      say(how, this.#stopping ? "info" : "error");
      if (this.#stopping && this.#workers.size === 0) this.#allGone.resolve();
      return;
    }
    const lived = performance.now() - worker.started;
    const delay = lived >= WELL_MS ? FIRST_DELAY_MS : this.#delays[worker.slot];
    this.#delays[worker.slot] = Math.min(delay * 2, MAX_DELAY_MS);
    say(`${how}; starting a new one in ${delay / 1000} s`, "error");
    const timer = setTimeout(() => {
      this.#restarts.delete(timer);
      this.#start(worker.slot);
    }, delay);
    this.#restarts.add(timer);
  }

  /** A worker has served its --max-requests: replace it. */
  #recycle(worker: Worker): void {
    if (this.#stopping || worker.retiring) return;
    say(
      `worker ${worker.slot} (pid ${worker.child.pid}) served ${worker.limit} requests: replacing it`,
      "info",
    );
    this.#plan(() => this.#replace([worker]));
  }

  /** A file of the app changed: replace every worker (once, however many changes queue up). */
  #reload(path: string): void {
    if (this.#stopping || this.#reloadQueued) return;
    this.#reloadQueued = true;
    say(`reload: ${path} changed; starting new workers`, "info");
    this.#plan(async () => {
      this.#reloadQueued = false;
      const replaced = await this.#replace([...this.#workers.values()]);
      if (replaced !== undefined) {
        say(
          `reload: the new code did not load (${replaced}); still serving the last good version`,
          "error",
        );
      }
    });
  }

  /** Runs `task` after the replacements already planned. */
  #plan(task: () => Promise<unknown>): void {
    this.#replacements = this.#replacements.then(task).then(
      () => {},
      (error) => say(`a replacement failed: ${error}`, "error"),
    );
  }

  /**
   * Starts a worker for each of `olds`, and once all of them listen stops
   * the olds gracefully. Stopping an old one only then keeps the port
   * served; what it cannot keep is a connection the kernel had already
   * queued on the old listener as it closes (each listener has its own
   * queue under SO_REUSEPORT), which is reset: docs/deploying.md. If a new
   * one exits first, the others go and the olds stay; resolves to why.
   */
  async #replace(olds: Worker[]): Promise<string | undefined> {
    olds = olds.filter((old) =>
      this.#workers.has(old.child.pid) && !old.retiring && !old.killed
    );
    if (this.#stopping || olds.length === 0) return;
    for (const old of olds) old.retiring = true;
    const fresh = olds.map((old) => this.#start(old.slot, true));
    const failed = await Promise.race([
      Promise.all(fresh.map((worker) => worker.listening.promise))
        .then(() => undefined),
      ...fresh.map((worker) =>
        worker.failure.promise.then((reason) => ({ worker, reason }))
      ),
      ...fresh.map((worker) =>
        worker.child.status.then(async (status) => ({
          worker,
          // Its reason may still be on its way on the channel: on a busy
          // machine the exit can be seen seconds before the line is read.
          reason: await Promise.race([
            worker.failure.promise,
            sleep(REASON_MS).then(() => `it exited with code ${status.code}`),
          ]),
        }))
      ),
    ]);
    if (failed === undefined && !this.#stopping) {
      for (const old of olds) kill(old, "SIGTERM");
      return;
    }
    // One that already listens may be serving: it drains as any retiring.
    for (const worker of fresh) {
      worker.retiring = true;
      kill(worker, worker.ready ? "SIGTERM" : "SIGKILL");
    }
    for (const old of olds) {
      old.retiring = false;
      // It died meanwhile: its slot starts afresh, as after any exit.
      if (!this.#workers.has(old.child.pid) && !this.#stopping) {
        this.#start(old.slot);
      }
    }
    return this.#stopping ? undefined : failed?.reason;
  }

  /** Kills, every second or so, each worker silent for the timeout. */
  #watch(): ReturnType<typeof setInterval> | undefined {
    if (this.#timeoutMs === 0) return;
    return setInterval(() => {
      const now = performance.now();
      for (const worker of this.#workers.values()) {
        if (worker.killed || worker.heard === undefined) continue;
        if (now - worker.heard <= this.#timeoutMs) continue;
        say(
          `worker timeout (pid ${worker.child.pid}): no heartbeat for ${
            this.#timeoutMs / 1000
          } s; killing it`,
          "critical",
        );
        worker.killed = true;
        kill(worker, "SIGKILL");
      }
    }, Math.min(1000, this.#timeoutMs / 4));
  }

  /**
   * The first SIGTERM or Ctrl+C goes to every worker, each of which keeps
   * the grace period for its own requests; past it (and a margin) a worker
   * still there is killed. A second one ends everything at once.
   */
  #signal(signal: Deno.Signal): void {
    if (this.#stopping) {
      this.#killAll();
      Deno.exit(130);
    }
    this.#stop();
    for (const worker of this.#workers.values()) kill(worker, signal);
    const bound = setTimeout(() => {
      for (const worker of this.#workers.values()) {
        say(
          `worker ${worker.slot} (pid ${worker.child.pid}) still running past the grace period; killing it`,
          "warning",
        );
      }
      this.#killAll();
    }, this.#command.gracefulTimeout * 1000 + STOP_MARGIN_MS);
    this.#allGone.promise.then(() => clearTimeout(bound));
  }

  /** From here no worker is started again; resolves allGone once none is left. */
  #stop(): void {
    this.#stopping = true;
    this.#watcher?.close();
    for (const timer of this.#restarts) clearTimeout(timer);
    this.#restarts.clear();
    if (this.#workers.size === 0) this.#allGone.resolve();
  }

  #killAll(): void {
    for (const worker of this.#workers.values()) kill(worker, "SIGKILL");
  }
}

/**
 * A worker's permissions: the network and reading (what server.ts needs),
 * its one environment variable, and any other permission the supervisor
 * holds whole (`-A` included), so that an application that needs more
 * gets it as in one process. A permission granted in part
 * (`--allow-write=DIR`) cannot be read back, and is not passed on, but for
 * the log files the workers open, which can be asked for by path.
 */
function workerFlags(command: Command): string[] {
  // reusePort is unstable in Deno 2.9; no prompt: no terminal to ask on.
  const flags = ["run", "--unstable-net", "--no-prompt"];
  flags.push("--allow-net", "--allow-read");
  const whole = (name: Deno.PermissionName) =>
    Deno.permissions.querySync({ name }).state === "granted";
  for (const name of ["write", "sys", "run", "ffi"] as const) {
    if (whole(name)) flags.push(`--allow-${name}`);
  }
  // The log files each worker opens for itself: granted by path, they can
  // be asked for by path.
  if (!whole("write")) {
    for (const path of [command.accessLogfile, command.errorLogfile]) {
      if (path === undefined || path === "-") continue;
      const state = Deno.permissions.querySync({ name: "write", path }).state;
      if (state === "granted") flags.push(`--allow-write=${path}`);
    }
  }
  flags.push(whole("env") ? "--allow-env" : `--allow-env=${WORKER_ENV}`);
  return flags;
}

function kill(worker: Worker, signal: Deno.Signal): void {
  try {
    worker.child.kill(signal);
  } catch {
    // Already gone: its exit is on its way.
  }
}

function say(line: string, level: Level): void {
  log(`[wsgi] ${line}`, level);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
