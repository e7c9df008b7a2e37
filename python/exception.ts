/**
 * A Python exception, carried into JavaScript, and the trimming of its
 * traceback.
 *
 * @module
 */

import { GLUE_FILE } from "./glue.ts";

/**
 * A Python exception, carried into JavaScript: the message is its last
 * line (`ValueError: …`), the stack is the whole Python traceback.
 *
 * @example
 * ```ts ignore
 * import { loadPythonApp, PythonException } from "@denowsgi/wsgi/python";
 *
 * try {
 *   await loadPythonApp("broken.py");
 * } catch (error) {
 *   if (error instanceof PythonException) console.error(error.traceback);
 * }
 * ```
 */
export class PythonException extends Error {
  /** The traceback as Python formats it, without the summary. */
  readonly traceback: string;
  /**
   * `traceback` as Python formats it; `summary`, when given, is the message
   * and the stack's last line (else the traceback's last line is).
   */
  constructor(traceback: string, summary?: string) {
    const trimmed = trim(traceback).trimEnd();
    super(summary ?? trimmed.split("\n").at(-1));
    this.name = "PythonException";
    this.traceback = trimmed;
    this.stack = summary ? `${trimmed}\n${summary}` : trimmed;
  }
}

/**
 * Pyodide's own frames, the glue's and the import machinery's say nothing
 * about the application (CPython leaves importlib's out of an import's
 * traceback too).
 */
const GLUE_FRAME = new RegExp(
  String
    .raw`^  File "(?:${GLUE_FILE}|/lib/python[\d.]+\.zip/_pyodide/[^"]*|<frozen importlib\._bootstrap(?:_external)?>)".*\n(?:    .*\n)*`,
  "gm",
);

function trim(traceback: string): string {
  return traceback.replace(GLUE_FRAME, "");
}
