/**
 * The channel between the supervisor and each of its workers: a loopback
 * TCP connection the worker opens as it starts. The worker sends lines on
 * it (who it is, then `ready` once it listens, then `beat` from its event
 * loop every so often, `recycle` once it has served its --max-requests, or
 * `failed` and why, when it was started on trial and its application did
 * not load); the supervisor never writes, and each side learns
 * that the other is gone when the connection closes, however it died (the
 * kernel closes a killed process's sockets).
 *
 * Why not gunicorn's temp file, whose time the worker touches: creating it
 * needs `--allow-write` in the supervisor and removing it after a worker is
 * killed too (or one file is left per timeout), and it tells neither side
 * when the other has died. Why not standard output or error: the access log
 * and the application's errors use them, straight from each worker.
 *
 * @module
 */

import type { Command } from "./command.ts";

/** The environment variable that hands a worker its {@linkcode Handover}. */
export const WORKER_ENV = "DENOWSGI_WORKER";

/** What the supervisor hands each worker as it starts it. */
export interface Handover {
  /** The command line, every port already chosen. */
  command: Command;
  /** Where the supervisor listens for its workers, on 127.0.0.1. */
  port: number;
  /** The first line a worker sends: no other local process knows it. */
  token: string;
  /** How often the worker sends a heartbeat, in ms. */
  beatMs: number;
  /** Requests this worker serves before asking to be replaced; 0: never. */
  maxRequests: number;
  /**
   * Started to replace a worker still serving (--reload): a failure to
   * load is sent to the supervisor, which says it in one line and keeps
   * the old worker.
   */
  trial: boolean;
}

/** What a worker says after its first line (`failed` with a reason). */
export type Message = "ready" | "beat" | "recycle" | "failed";

const encoder = new TextEncoder();
const MESSAGES = new Set(["ready", "beat", "recycle"]);

/** A worker's end of the channel. */
export interface ToSupervisor {
  /** Tells the supervisor the worker listens. */
  ready(): void;
  /** Asks the supervisor for a replacement: --max-requests are served. */
  recycle(): void;
  /** Tells the supervisor why the application did not load (one line). */
  failed(reason: string): Promise<void>;
  /** Resolves once the supervisor is gone. */
  gone: Promise<void>;
}

/**
 * Opens the channel and starts the heartbeat, a timer on this process's
 * event loop: an application that holds the loop (a CPU-bound loop, a
 * synchronous wait) silences it, which is what the supervisor watches for.
 */
export async function joinSupervisor(
  handover: Handover,
): Promise<ToSupervisor> {
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: handover.port,
  });
  // A stream queues the writes; one failing means the supervisor is gone,
  // which the read below sees too.
  const writer = conn.writable.getWriter();
  const send = (line: string) =>
    writer.write(encoder.encode(`${line}\n`)).catch(() => {});
  send(`${handover.token} ${Deno.pid}`);
  const beat = setInterval(() => send("beat"), handover.beatMs);
  const gone = (async () => {
    try {
      // Nothing comes this way: the read ends when the supervisor does.
      for await (const _ of conn.readable);
    } catch {
      // Reset: gone as well.
    }
    clearInterval(beat);
  })();
  return {
    ready: () => send("ready"),
    recycle: () => send("recycle"),
    // The worker exits next: the line must have left, not only be queued
    // (under load a queued line was lost with the process).
    failed: async (reason) => {
      await send(`failed ${reason.replaceAll("\n", " ")}`);
      await writer.close().catch(() => {});
    },
    gone,
  };
}

/** How the supervisor hears a worker: its pid, the message, a failure's reason. */
export type Heard = (
  pid: number,
  message: Message | "hello",
  reason?: string,
) => void;

/**
 * The supervisor's end: listens on loopback and calls `heard` with the
 * pid a connection named in its first line, for that line and each later
 * one. A worker's exit is learnt from its process, not from here.
 */
export class WorkerChannels {
  readonly token: string = crypto.randomUUID();
  readonly #listener: Deno.Listener;
  readonly #conns = new Set<Deno.Conn>();

  constructor(heard: Heard) {
    const listener = this.#listener = Deno.listen({
      hostname: "127.0.0.1",
      port: 0,
    });
    (async () => {
      try {
        for await (const conn of listener) this.#read(conn, heard);
      } catch {
        // Closed.
      }
    })();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async #read(conn: Deno.Conn, heard: Heard): Promise<void> {
    this.#conns.add(conn);
    let pid: number | undefined;
    let buffered = "";
    try {
      for await (
        const text of conn.readable.pipeThrough(new TextDecoderStream())
      ) {
        buffered += text;
        let end;
        while ((end = buffered.indexOf("\n")) !== -1) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 1);
          if (pid === undefined) {
            const [token, number] = line.split(" ");
            // A stranger on loopback: hang up.
            if (token !== this.token) return;
            pid = Number(number);
            heard(pid, "hello");
          } else if (MESSAGES.has(line)) {
            heard(pid, line as Message);
          } else if (line.startsWith("failed ")) {
            heard(pid, "failed", line.slice(7));
          }
        }
        // A first line that never ends is no worker's either (a failure's
        // reason is one line, if a long one).
        if (buffered.length > (pid === undefined ? 200 : 65536)) return;
      }
    } catch {
      // Reset by a killed worker: as an end.
    } finally {
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed by the stream's end.
      }
    }
  }

  /** Stops listening and hangs up on every worker. */
  close(): void {
    this.#listener.close();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }
}
