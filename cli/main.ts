/**
 * `server.ts`'s command line, whole: parse it, then serve the application
 * it names in this process, or under the supervisor's worker processes.
 *
 * @module
 */

import { application } from "./application.ts";
import { parseCommand, usage, UsageError } from "./command.ts";
import { serveCommand } from "./listen.ts";
import { keepGoing } from "./survive.ts";
import { supervise } from "./supervisor.ts";

/** Runs the command line; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  try {
    const command = parseCommand(args);
    if (command.help) {
      console.log(usage());
      return 0;
    }
    // One process unless asked: a learner's Ctrl+C, trace and errors stay
    // those of one program.
    if (
      command.workers > 1 || command.timeout !== undefined ||
      command.maxRequests > 0 || command.reload
    ) {
      return await supervise(command);
    }
    const app = await application(command);
    keepGoing();
    return await serveCommand(command, app);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`server.ts: error: ${error.message.split("\n")[0]}`);
    return 2;
  }
}
