/**
 * `server.ts`'s command line, whole: parse it, then serve the application
 * it names in this process, or under workers.
 *
 * @module
 */

import { application } from "./application.ts";
import { parseCommand, usage, UsageError } from "./command.ts";
import { serveCommand } from "./listen.ts";
import { keepGoing } from "./survive.ts";
import { runWorkers } from "./workers.ts";

/** Runs the command line; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  try {
    const command = parseCommand(args);
    if (command.help) {
      console.log(usage());
      return 0;
    }
    if (command.workers > 1) return await runWorkers(command);
    const app = await application(command);
    keepGoing();
    return await serveCommand(command, app);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`server.ts: error: ${error.message.split("\n")[0]}`);
    return 2;
  }
}
