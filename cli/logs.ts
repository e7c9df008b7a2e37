/**
 * Where the command line's logs go, as gunicorn's `--error-logfile`,
 * `--access-logfile` and `--log-level` set them: the server's own lines and
 * `wsgi.errors` to standard error or a file, the access log to standard
 * output or a file, and both files opened again on SIGUSR1, after logrotate
 * has moved them (gunicorn's signal).
 *
 * The levels keep, from `debug` up: `info` (the default) every line;
 * `warning` drops the lines that only say what happens (a worker started, a
 * graceful stop begun); `error` keeps what went wrong (an application's
 * error, a listener down, a worker that exited unasked, a stray error);
 * `critical` only a worker killed for its silence. The access log is not
 * leveled: `--no-access-log` turns it off.
 *
 * @module
 */

import type { ErrorStream, LogWriter } from "../types.ts";
import { writeText } from "../gateway/errors.ts";
import { type Level, LEVELS, UsageError } from "./command.ts";

let threshold = LEVELS.indexOf("info");
/** The error log's file, when not standard error. */
let errorFile: ReopenedFile | undefined;

/** A log file, opened for appending, opened again on SIGUSR1. */
class ReopenedFile implements LogWriter {
  #path: string;
  #file: Deno.FsFile;

  constructor(path: string, flag: string) {
    this.#path = path;
    this.#file = open(path, flag);
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.#file.write(bytes);
  }

  writeSync(bytes: Uint8Array): number {
    return this.#file.writeSync(bytes);
  }

  reopen(): void {
    const old = this.#file;
    this.#file = open(this.#path, "SIGUSR1");
    old.close();
  }
}

function open(path: string, flag: string): Deno.FsFile {
  try {
    return Deno.openSync(path, { append: true, create: true });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${flag}: cannot open ${path}: ${why}`);
  }
}

/** What the command line says of the logs. */
export interface LogOptions {
  /** `-` or a path: where the server's lines and `wsgi.errors` go. */
  errorLogfile?: string;
  /** `-` or a path: where the access log goes. */
  accessLogfile?: string;
  logLevel?: Level;
}

/**
 * Opens the log files the options name, and listens for SIGUSR1 to open
 * them again; returns what the gateway's `accessLog` option should be.
 */
export function openLogs(
  options: LogOptions,
): LogWriter | undefined {
  threshold = LEVELS.indexOf(options.logLevel ?? "info");
  const files: ReopenedFile[] = [];
  if (options.errorLogfile && options.errorLogfile !== "-") {
    files.push(
      errorFile = new ReopenedFile(options.errorLogfile, "--error-logfile"),
    );
  }
  let access: ReopenedFile | undefined;
  if (options.accessLogfile && options.accessLogfile !== "-") {
    files.push(
      access = new ReopenedFile(options.accessLogfile, "--access-logfile"),
    );
  }
  if (files.length > 0 && Deno.build.os !== "windows") {
    Deno.addSignalListener("SIGUSR1", () => {
      for (const file of files) {
        try {
          file.reopen();
        } catch (error) {
          say(`${error instanceof Error ? error.message : error}`, "error");
        }
      }
      say("log files opened again (SIGUSR1)", "info");
    });
  }
  return access;
}

/** One of the server's own lines, at `level`, to the error log. */
export function say(line: string, level: Level): void {
  if (LEVELS.indexOf(level) < threshold) return;
  writeText(errorFile ?? Deno.stderr, `${line}\n`);
}

/** `wsgi.errors` for the command line's gateway: the error log, at `error`. */
export const errorLog: ErrorStream = {
  write(text) {
    if (LEVELS.indexOf("error") < threshold) return;
    writeText(errorFile ?? Deno.stderr, text);
  },
  writelines(lines) {
    for (const line of lines) this.write(line);
  },
  flush() {},
};

/** The start of Deno 2.9's notice about `request.signal`. */
const LEGACY_NOTICE =
  "Deno.serve: request.signal aborts on successful responses (legacy behavior)";

/**
 * Keeps Deno's one notice about `request.signal` off the server's output.
 * The gateway follows that signal only while an answer is pending (a Python
 * view, a body whose first chunk waits) and stops once answered, so the
 * behaviour the notice warns of changes nothing for it; a learner would take
 * it for a fault of theirs. Opting in to Deno's newer behaviour instead
 * (`--unstable-no-legacy-abort`) was measured to cost a keep-alive POST
 * about 2 µs of CPU more, 8–10% (bench/http.ts post1k, 9 interleaved rounds).
 */
export function quietLegacyNotice(): void {
  const warn = console.warn;
  console.warn = (...data: unknown[]) => {
    if (typeof data[0] === "string" && data[0].startsWith(LEGACY_NOTICE)) {
      return;
    }
    warn(...data);
  };
}
