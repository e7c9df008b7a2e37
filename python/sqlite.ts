/**
 * `sqlite3` and `hashlib.pbkdf2_hmac` for Python on Pyodide, over Deno's
 * built-in SQLite and `node:crypto`: {@linkcode installSqlite} registers the
 * JavaScript bridge (`python/sqlite_bridge.ts`) as the `_denosqlite` module,
 * writes the pure-Python package (`python/sqlite3/`) into the interpreter's
 * file system and puts it on `sys.path`, and gives `hashlib` a
 * `pbkdf2_hmac` when it has none. docs/python.md says what the module
 * supports.
 *
 * @module
 */

import type { PyodideInterface } from "pyodide";
import { bridge } from "./sqlite_bridge.ts";

/** Where the package is written inside Pyodide (not a host folder). */
export const SQLITE_PATH = "/lib/denowsgi";

/** The Python files: where they are here, and where they go in Pyodide. */
const FILES: [source: string, target: string][] = [
  ["sqlite3/__init__.py", "sqlite3/__init__.py"],
  ["sqlite3/dbapi2.py", "sqlite3/dbapi2.py"],
  ["pbkdf2.py", "_denowsgi_pbkdf2.py"],
];

/** Reads one of the Python files, from a checkout or from where it is served. */
async function source(name: string): Promise<string> {
  const url = new URL(name, import.meta.url);
  if (url.protocol === "file:") return await Deno.readTextFile(url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url}: ${response.status}`);
  return await response.text();
}

/**
 * Makes `import sqlite3` work in a Pyodide interpreter, and
 * `hashlib.pbkdf2_hmac`. A database path is a host path: relative to
 * Python's working folder (`os.getcwd()`), which is the host's own path for
 * a folder mounted at its own path, as `python.ts` mounts them. Idempotent.
 *
 * `python/worker.ts` calls it once, right after `loadPyodide()`; a test that loads
 * Pyodide itself calls it the same way (tests/sqlite_test.ts).
 */
export async function installSqlite(pyodide: PyodideInterface): Promise<void> {
  pyodide.registerJsModule("_denosqlite", bridge);
  const texts = await Promise.all(FILES.map(([name]) => source(name)));
  pyodide.FS.mkdirTree(`${SQLITE_PATH}/sqlite3`);
  FILES.forEach(([, target], i) =>
    pyodide.FS.writeFile(`${SQLITE_PATH}/${target}`, texts[i])
  );
  pyodide.runPython(`
import sys
if ${JSON.stringify(SQLITE_PATH)} not in sys.path:
    sys.path.append(${JSON.stringify(SQLITE_PATH)})
import _denowsgi_pbkdf2
_denowsgi_pbkdf2.install()
del _denowsgi_pbkdf2
`);
}
