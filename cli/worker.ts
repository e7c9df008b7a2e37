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

import { application } from "./application.ts";
import { UsageError } from "./command.ts";
import { type Handover, joinSupervisor, WORKER_ENV } from "./channel.ts";
import { serveCommand } from "./listen.ts";
import { keepGoing } from "./survive.ts";

async function work(): Promise<number> {
  const handover: Handover = JSON.parse(Deno.env.get(WORKER_ENV) ?? "null");
  const supervisor = await joinSupervisor(handover);
  // Orphaned while loading: nothing to drain yet. Once serving, the
  // graceful stop takes it.
  let serving = false;
  supervisor.gone.then(() => serving || Deno.exit(1));
  try {
    const app = await application(handover.command);
    keepGoing();
    serving = true;
    return await serveCommand(handover.command, app, {
      ready: supervisor.ready,
      orphaned: supervisor.gone,
    });
  } catch (error) {
    // As the single process says it: one line, exit 2. The supervisor
    // stops there when this is its first worker.
    if (!(error instanceof UsageError)) throw error;
    console.error(`server.ts: error: ${error.message.split("\n")[0]}`);
    return 2;
  }
}

if (import.meta.main) Deno.exit(await work());
