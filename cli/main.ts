/**
 * `server.ts`'s command line, whole: parse it, then serve the application
 * it names in this process, or under the supervisor's worker processes.
 *
 * @module
 */

import config from "../deno.json" with { type: "json" };
import { application, isPython, reloadPython } from "./application.ts";
import { type Command, parseCommand, usage, UsageError } from "./command.ts";
import { configArgs } from "./config.ts";
import { serveCommand } from "./listen.ts";
import { say } from "./logs.ts";
import { watchApp } from "./reload.ts";
import { keepGoing } from "./survive.ts";
import { supervise, supervisedBy } from "./supervisor.ts";

/** Runs the command line; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  try {
    const command = parseCommand(await withConfig(args));
    if (command.help) {
      console.log(usage());
      return 0;
    }
    if (command.version) {
      console.log(`denowsgi ${config.version} (Deno ${Deno.version.deno})`);
      return 0;
    }
    setUp(command);
    // gunicorn's --check-config: the app loads here, whatever the workers
    // would be, and nothing listens.
    if (command.checkConfig) {
      await application(command);
      return 0;
    }
    // A learner's .py: reloaded in its running interpreter, in milliseconds,
    // rather than by a new process that starts Pyodide again.
    if (command.reload && pythonAlone(command)) {
      const app = await application(command);
      keepGoing();
      const watch = watchApp(command, reload);
      try {
        return await serveCommand(command, app);
      } finally {
        watch.close();
      }
    }
    // One process unless asked: a learner's Ctrl+C, trace and errors stay
    // those of one program.
    if (supervisedBy(command)) return await supervise(command);
    const app = await application(command);
    keepGoing();
    return await serveCommand(command, app);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`server.ts: error: ${error.message.split("\n")[0]}`);
    return 2;
  }
}

/** A Python app in one process, which nothing else asks to supervise. */
function pythonAlone(command: Command): boolean {
  const by = supervisedBy(command);
  return command.module !== undefined && isPython(command.module) &&
    (by === undefined || by === "--reload");
}

/** `--reload` of a Python app: loaded again in place, or the last one kept. */
async function reload(path: string): Promise<void> {
  say(`[wsgi] reload: ${path} changed`, "info");
  try {
    const ms = await reloadPython();
    say(`[wsgi] reload: loaded again in ${ms.toFixed(0)} ms`, "info");
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    // The traceback first, for a bug in the file; the one line last.
    if (error instanceof Error && error.name === "PythonException") {
      say(
        (error as { traceback?: string }).traceback ?? String(error.stack),
        "error",
      );
    }
    say(
      `[wsgi] reload: the new code did not load (${
        why.split("\n").at(-1)
      }); still serving the last good version`,
      "error",
    );
  }
}

/** The flags of `-c FILE`, if one is named, then the command line's. */
async function withConfig(args: string[]): Promise<string[]> {
  const at = args.findIndex((arg) =>
    arg === "-c" || arg === "--config" || arg.startsWith("--config=")
  );
  if (at === -1) return args;
  const path = args[at].startsWith("--config=")
    ? args[at].slice("--config=".length)
    : args[at + 1];
  if (path === undefined) return args;
  return [...await configArgs(path, args), ...args];
}

/** What the process does before its app loads: --chdir, --umask, --pid. */
function setUp(command: Command): void {
  const failing = (flag: string, act: () => void) => {
    try {
      act();
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new UsageError(`${flag}: ${why}`);
    }
  };
  if (command.chdir !== undefined) {
    failing("--chdir", () => Deno.chdir(command.chdir!));
  }
  if (command.umask !== undefined) {
    failing("--umask", () => Deno.umask(command.umask));
  }
  const pid = command.pid;
  if (pid !== undefined) {
    failing("--pid", () => Deno.writeTextFileSync(pid, `${Deno.pid}\n`));
    // Also when a second Ctrl+C exits at once.
    addEventListener("unload", () => {
      try {
        Deno.removeSync(pid);
      } catch {
        // Gone already.
      }
    });
  }
}
