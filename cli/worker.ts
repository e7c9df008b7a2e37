/**
 * What each isolate of `server.ts --workers N` runs under `deno serve
 * --parallel`: the command, handed over in an environment variable, turned
 * into a default export with a fetch handler. `wsgi.multiprocess` is true
 * here.
 *
 * @module
 */

import { servedHandler } from "../gateway/serve.ts";
import { application, closeApplications } from "./application.ts";
import type { Command } from "./command.ts";
import { keepGoing } from "./survive.ts";
import { Drain, stopGracefully } from "./drain.ts";
import { PORT_ENV, READY, WORKER_ENV } from "./workers.ts";

const command: Command = JSON.parse(Deno.env.get(WORKER_ENV) ?? "{}");
// One TCP address, as runWorkers checked; its port as deno serve was given.
const bind = command.binds[0] as { hostname: string };
const drain = new Drain();
const app = drain.wrap(await application(command));
const encoder = new TextEncoder();
keepGoing((text) => Deno.stderr.writeSync(encoder.encode(`${text}\n`)));

// deno serve itself stops accepting on the first signal; this adds the
// grace period, the operator's line and the second Ctrl+C. Straight to
// stderr: Deno prefixes a worker's console lines.
stopGracefully(drain, {
  timeout: command.gracefulTimeout,
  stop: () => drain.idle(),
  say: (line) => Deno.stderr.writeSync(encoder.encode(`${line}\n`)),
  sameWithin: 500,
}).then(closeApplications);
Deno.stdout.writeSync(encoder.encode(`${READY}\n`));

// No onListen here: with one, deno serve 2.9 dies of the first SIGTERM
// instead of draining; the command says where it listens.
export default {
  fetch: servedHandler(
    app,
    {
      multiprocess: true,
      accessLog: command.accessLog,
      trace: command.trace,
      ...command.tuning,
    },
    bind.hostname,
    Number(Deno.env.get(PORT_ENV)),
  ),
} satisfies Deno.ServeDefaultExport;
