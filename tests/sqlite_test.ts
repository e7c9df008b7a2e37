/**
 * The Python `sqlite3` module over Deno's SQLite (python/sqlite.ts): one
 * DB-API script (tests/fixtures/sqlite_script.py) runs under CPython's own
 * sqlite3 and under Pyodide with this module, and prints the same JSON; and
 * `hashlib.pbkdf2_hmac` gives CPython's keys.
 *
 * Pyodide starts once, here, for the whole file. Without Pyodide or
 * `python3`, the tests that need them skip, saying why.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parameterNames, skipBlank } from "../python/sqlite_bridge.ts";

const SCRIPT = new URL("./fixtures/sqlite_script.py", import.meta.url);

type Pyodide = Awaited<ReturnType<typeof import("pyodide").loadPyodide>>;

/** Pyodide with the module installed, or why it cannot run here. */
async function start(): Promise<Pyodide | string> {
  try {
    const { loadPyodide } = await import("pyodide");
    const { installSqlite } = await import("../python/sqlite.ts");
    const pyodide = await loadPyodide();
    await installSqlite(pyodide);
    return pyodide;
  } catch (error) {
    return `Pyodide cannot load here: ${error}`;
  }
}

/** Whether `python3` runs, or why not. */
async function cpython(): Promise<true | string> {
  try {
    const { success } = await new Deno.Command("python3", {
      args: ["-c", "import sqlite3, hashlib"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success || "python3 cannot import sqlite3";
  } catch (error) {
    return `python3 cannot run here: ${error}`;
  }
}

const started = await start();
const pyodide = typeof started === "string" ? undefined : started;
const hasPython = await cpython();
if (pyodide === undefined) console.log(`sqlite tests skipped: ${started}`);
if (hasPython !== true) {
  console.log(`CPython comparisons skipped: ${hasPython}`);
}
const ignore = pyodide === undefined || hasPython !== true;

/** Runs Python source in Pyodide, in `cwd` (a host folder), for its output. */
function runInPyodide(py: Pyodide, source: string, cwd: string): string {
  py.FS.mkdirTree(cwd);
  py.mountNodeFS(cwd, cwd);
  const os = py.pyimport("os");
  const before = os.getcwd();
  let output = "";
  py.setStdout({ batched: (line: string) => output += `${line}\n` });
  try {
    os.chdir(cwd);
    py.runPython(source, { filename: "sqlite_script.py" });
  } finally {
    os.chdir(before);
    os.destroy();
    py.setStdout();
    (py.FS as unknown as { unmount(path: string): void }).unmount(cwd);
  }
  return output;
}

/** Runs a Python file with CPython, in `cwd`, for its output. */
async function runInCPython(
  args: string[],
  cwd = Deno.cwd(),
): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("python3", {
    args,
    cwd,
  }).output();
  const decoder = new TextDecoder();
  assert.ok(success, decoder.decode(stderr));
  return decoder.decode(stdout);
}

Deno.test({
  name: "sqlite3: the DB-API script prints the same under CPython and Pyodide",
  ignore,
  async fn() {
    const source = await Deno.readTextFile(SCRIPT);
    const cpythonDir = await Deno.makeTempDir({ prefix: "sqlite-cpython-" });
    const pyodideDir = await Deno.makeTempDir({ prefix: "sqlite-pyodide-" });
    try {
      const expected = JSON.parse(
        await runInCPython([SCRIPT.pathname], cpythonDir),
      );
      const actual = JSON.parse(runInPyodide(pyodide!, source, pyodideDir));
      // No named differences are needed: every key prints the same under
      // SQLite 3.40 / Python 3.11 and SQLite 3.53 / Python 3.12.
      assert.deepEqual(actual, expected);
      assert.ok(Object.keys(actual).length > 60);
    } finally {
      await Deno.remove(cpythonDir, { recursive: true });
      await Deno.remove(pyodideDir, { recursive: true });
    }
  },
});

const PBKDF2_CASES = `
import hashlib, json
cases = []
for name in ("sha256", "sha1", "sha512"):
    for iterations in (1, 2, 1000, 4096):
        for dklen in (None, 16, 20, 64, 100):
            cases.append([name, iterations, dklen, hashlib.pbkdf2_hmac(
                name, b"password", b"salt", iterations, dklen).hex()])
cases.append(["sha256", 260000, None, hashlib.pbkdf2_hmac(
    "sha256", "pässword".encode(), bytearray(b"NaCl"), 260000).hex()])
cases.append(["SHA256", 3, 8, hashlib.pbkdf2_hmac(
    "SHA256", memoryview(b"p"), b"", 3, 8).hex()])
errors = []
for args in (("sha256", b"p", b"s", 0), ("sha256", b"p", b"s", 1, 0),
             ("nohash", b"p", b"s", 1), ("sha256", "text", b"s", 1)):
    try:
        hashlib.pbkdf2_hmac(*args)
    except Exception as e:
        errors.append(type(e).__name__)
print(json.dumps([cases, errors, "pbkdf2_hmac" in hashlib.__all__]))
`;

Deno.test({
  name:
    "sqlite3: hashlib.pbkdf2_hmac gives CPython's keys (sha256, sha1, sha512)",
  ignore,
  async fn() {
    const expected = JSON.parse(await runInCPython(["-c", PBKDF2_CASES]));
    const dir = await Deno.makeTempDir({ prefix: "sqlite-pbkdf2-" });
    try {
      const actual = JSON.parse(runInPyodide(pyodide!, PBKDF2_CASES, dir));
      assert.deepEqual(actual, expected);
      assert.equal(actual[0].length, 62);
      // Django's own test vector (RFC 6070's, sha1, 4096 iterations).
      assert.ok(
        actual[0].some((c: unknown[]) =>
          c[0] === "sha1" && c[1] === 4096 && c[2] === 20 &&
          c[3] === "4b007901b765489abead49d926f721d065a429c1"
        ),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "sqlite3: what Deno's SQLite cannot do says so (NotSupportedError)",
  ignore: pyodide === undefined,
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "sqlite-unsupported-" });
    try {
      const output = runInPyodide(
        pyodide!,
        `
import sqlite3
con = sqlite3.connect(":memory:")
for call in (lambda: con.create_collation("x", lambda a, b: 0),
             lambda: con.set_authorizer(None),
             lambda: sqlite3.connect("file:x.db?vfs=unix", uri=True)):
    try:
        call()
    except sqlite3.NotSupportedError as e:
        print(type(e).__name__, str(e).split(":")[0])
con.close()
`,
        dir,
      );
      assert.deepEqual(output.trim().split("\n"), [
        "NotSupportedError create_collation is not supported",
        "NotSupportedError set_authorizer is not supported here",
        "NotSupportedError the URI parameter vfs is not supported over Deno's SQLite",
      ]);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("sqlite3: parameters are numbered as SQLite numbers them", () => {
  assert.deepEqual(parameterNames("select ?, ?"), [null, null]);
  assert.deepEqual(parameterNames("select :a, @b, $c, :a"), [":a", "@b", "$c"]);
  assert.deepEqual(parameterNames("select ?3, ?"), [null, null, "?3", null]);
  assert.deepEqual(parameterNames("select :x, ?, ?1"), [":x", null]);
  assert.deepEqual(
    parameterNames(
      `select '?', "a?", [:b], \`:c\`, 'it''s ?', ? -- ?\n/* :d */`,
    ),
    [null],
  );
  assert.deepEqual(parameterNames("select :été, :a1$"), [":été", ":a1$"]);
  assert.equal(skipBlank("  -- c\n /* d */ ; select"), 18);
  assert.equal(skipBlank(" -- only"), 8);
});
