/**
 * `--workers N`: the command runs itself again under `deno serve
 * --parallel`, which starts one isolate per worker on a shared port, each
 * loading `worker.ts`. Signals reach the child through this process.
 *
 * @module
 */

import { type Command, described, UsageError } from "./command.ts";
import { STOP_SIGNALS } from "./drain.ts";
import { writeText } from "../gateway/errors.ts";

/** The environment variable that hands the command to each worker. */
export const WORKER_ENV = "DENOWSGI_WORKER";
/** The port every worker listens on, picked once for all of them. */
export const PORT_ENV = "DENOWSGI_PORT";

/**
 * The line each worker prints once it handles signals. Until every one
 * has, a SIGTERM could reach a worker still loading, which would then
 * serve on after the others stopped: "Serving" waits for them all.
 */
export const READY = "\u0000denowsgi: worker ready";

/** Runs `command` under `deno serve --parallel`; resolves to its exit code. */
export async function runWorkers(command: Command): Promise<number> {
  const [bind, ...more] = command.binds;
  if (more.length > 0 || "path" in bind || command.certfile !== undefined) {
    throw new UsageError(
      "--workers runs under deno serve --parallel, which listens on one TCP address without TLS: give one -b HOST:PORT, no unix: or --certfile",
    );
  }
  // Each worker would pick its own port 0: pick one for all of them.
  const port = bind.port || freePort(bind.hostname);
  let child: Deno.ChildProcess;
  try {
    // By name, as `--allow-run=deno` grants it (not the path it resolves to).
    child = new Deno.Command("deno", {
      args: [
        "serve",
        "--parallel",
        "--allow-net",
        "--allow-read",
        `--allow-env=${WORKER_ENV},${PORT_ENV}`,
        "--host",
        bind.hostname,
        "--port",
        String(port),
        new URL("./worker.ts", import.meta.url).href,
      ],
      env: {
        DENO_JOBS: String(command.workers),
        [WORKER_ENV]: JSON.stringify(command),
        [PORT_ENV]: String(port),
      },
      stdin: "null",
      stdout: "piped",
    }).spawn();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw new UsageError(
      "--workers starts deno serve --parallel: run server.ts with --allow-run=deno",
    );
  }
  const forward = (signal: Deno.Signal) => () => {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  const listeners = STOP_SIGNALS.map((signal) =>
    [signal, forward(signal)] as const
  );
  for (const [signal, listener] of listeners) {
    Deno.addSignalListener(signal, listener);
  }
  try {
    const host = bind.hostname.includes(":")
      ? `[${bind.hostname}]`
      : bind.hostname;
    const ready = relay(child.stdout, command.workers);
    if (
      await Promise.race([ready, child.status.then(() => false)]) &&
      await accepting(bind.hostname, port, child.status)
    ) {
      console.log(
        `Serving ${
          described(command)
        } on http://${host}:${port}/ with ${command.workers} workers (Ctrl+C to stop)`,
      );
    }
    const { code } = await child.status;
    await ready;
    if (code === 0) console.log("Stopped.");
    return code;
  } finally {
    for (const [signal, listener] of listeners) {
      Deno.removeSignalListener(signal, listener);
    }
  }
}

/**
 * Copies the child's stdout to ours, line by line, keeping back the ready
 * lines; resolves true once `workers` of them came, false if output ends
 * first. Copying goes on after that until the child ends.
 */
function relay(
  stdout: ReadableStream<Uint8Array>,
  workers: number,
): Promise<boolean> {
  const all = Promise.withResolvers<boolean>();
  (async () => {
    let ready = 0;
    let buffered = "";
    for await (const text of stdout.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      const shown = lines.filter((line) => line !== READY);
      ready += lines.length - shown.length;
      if (shown.length > 0) writeText(Deno.stdout, `${shown.join("\n")}\n`);
      if (ready === workers) all.resolve(true);
    }
    if (buffered) writeText(Deno.stdout, buffered);
    all.resolve(false);
  })();
  return all.promise;
}

function freePort(hostname: string): number {
  const listener = Deno.listen({ hostname, port: 0 });
  listener.close();
  return listener.addr.port;
}

/**
 * Waits until the workers accept connections, so that "Serving" means
 * ready; false if the child ended first (it said why on stderr).
 */
async function accepting(
  hostname: string,
  port: number,
  ended: Promise<unknown>,
): Promise<boolean> {
  let gone = false;
  ended.then(() => gone = true);
  while (!gone) {
    try {
      (await Deno.connect({ hostname, port })).close();
      return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return false;
}
