/**
 * What each worker of the supervisor runs (`deno run … cli/worker.ts`,
 * never by hand): the command, handed over in an environment variable,
 * served through the same path as the single process (`serveCommand`:
 * the listeners, the drain, the graceful stop, the access log) on ports
 * shared with the other workers, with `wsgi.multiprocess` true. It opens
 * the channel to the supervisor first, so the heartbeat runs while the
 * application loads, and listens only once the application is loaded.
 *
 * @module
 */

import type { Application } from "../types.ts";
import { application } from "./application.ts";
import { UsageError } from "./command.ts";
import {
  type Handover,
  joinSupervisor,
  type ToSupervisor,
  WORKER_ENV,
} from "./channel.ts";
import { serveCommand } from "./listen.ts";
import { keepGoing } from "./survive.ts";

async function work(): Promise<number> {
  const handover: Handover = JSON.parse(Deno.env.get(WORKER_ENV) ?? "null");
  const supervisor = await joinSupervisor(handover);
  // Orphaned while loading: nothing to drain yet. Once serving, the
  // graceful stop takes it.
  let serving = false;
  supervisor.gone.then(() => serving || Deno.exit(1));
  let app: Application;
  try {
    app = await application(handover.command);
  } catch (error) {
    if (handover.trial) {
      // A reload's new code that does not load: the supervisor says it in
      // one line and keeps the old worker, so no stack here.
      await supervisor.failed(oneLine(error));
      return 2;
    }
    return usageError(error);
  }
  try {
    keepGoing();
    serving = true;
    return await serveCommand(
      handover.command,
      counted(app, handover, supervisor),
      {
        ready: supervisor.ready,
        orphaned: supervisor.gone,
      },
    );
  } catch (error) {
    return usageError(error);
  }
}

/**
 * An app that does not load, or an address it cannot listen on: one line
 * and exit 2, as the single process says it. The supervisor stops there
 * when this is its first worker.
 */
function usageError(error: unknown): number {
  if (!(error instanceof UsageError)) throw error;
  console.error(`server.ts: error: ${error.message.split("\n")[0]}`);
  return 2;
}

/**
 * `app`, asking the supervisor for its replacement once it has been called
 * `maxRequests` times. The worker goes on serving until the supervisor,
 * the replacement listening, sends SIGTERM: with one worker, stopping
 * here first would leave the port with no listener meanwhile.
 */
function counted(
  app: Application,
  { maxRequests }: Handover,
  supervisor: ToSupervisor,
): Application {
  if (maxRequests === 0) return app;
  let served = 0;
  return (environ, startResponse) => {
    if (++served === maxRequests) supervisor.recycle();
    return app(environ, startResponse);
  };
}

/** An error as one line: its message's first, and where (a parse error's `at` line). */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const [first] = text.split("\n");
  const at = /^\s*at (\S+)\s*$/m.exec(text)?.[1];
  return at && !first.includes(at) ? `${first} (${at})` : first;
}

if (import.meta.main) Deno.exit(await work());
