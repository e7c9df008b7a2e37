/**
 * Python applications on the gateway (python.ts): the lesson's holamundo.py
 * as written, a fixture using every part of the WSGI contract, and Flask and
 * Bottle from Debian's packages when they are installed.
 *
 * Pyodide takes seconds to start, so it starts once, here, for the whole
 * file; every test shares its interpreter.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Application, toFetchHandler } from "../mod.ts";
import { Client } from "../testing.ts";
import type { PythonModule } from "../cli/application.ts";
import { assertLessonPage, collector, listen } from "./_helpers.ts";

const DIST_PACKAGES = "/usr/lib/python3/dist-packages";
const LESSON = "examples/webapp/holamundo.py";

/**
 * python.ts, imported at run time: without the npm package or leave to read
 * it, every test here skips, saying why, instead of failing to load.
 */
const pythonTs: typeof import("../python.ts") | string = await import(
  "../python.ts"
).catch((error) => `python.ts cannot load here: ${error}`);
const { loadPythonApp, PythonException } = typeof pythonTs === "string"
  ? {
    loadPythonApp: () => Promise.reject(pythonTs),
    PythonException: Error,
  }
  : pythonTs;

/** Loads an app, or says why Python cannot run here. */
async function load(
  path: string,
  callable?: string,
  pythonPath?: string[],
): Promise<Application | string> {
  if (typeof pythonTs === "string") return pythonTs;
  try {
    return await loadPythonApp(path, { callable, pythonPath });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    return `Pyodide cannot read its npm package: ${error.message}`;
  }
}

const lesson = await load(LESSON, "hola_mundo_app");
const python = typeof lesson === "string" ? undefined : lesson;
if (python === undefined) console.log(`python tests skipped: ${lesson}`);

/** Whether dist-packages holds a package (a folder) or a module (a file). */
function inDistPackages(module: string): boolean {
  return [module, `${module}.py`].some((name) => {
    try {
      Deno.statSync(`${DIST_PACKAGES}/${name}`);
      return true;
    } catch {
      return false;
    }
  });
}

const HAS = {
  flask: inDistPackages("flask"),
  bottle: inDistPackages("bottle"),
};
for (const [name, found] of Object.entries(HAS)) {
  if (!found) {
    console.log(
      `${name} tests skipped: ${DIST_PACKAGES}/${name} is missing (apt-get install -y python3-${name})`,
    );
  }
}

const contract = python && await loadPythonApp("tests/fixtures/contract.py");
const ignore = python === undefined;

// -- the lesson's file, verbatim ----------------------------------------------------

Deno.test({
  name: "python: the lesson's holamundo.py, as written, answers its page",
  ignore,
  async fn() {
    const response = await new Client(python!).get("/");
    assertLessonPage(response);
    assert.deepEqual(response.errors, []);
  },
});

Deno.test({
  name: "python: the lesson's holamundo.py serves the logo beside it",
  ignore,
  async fn() {
    const response = await new Client(python!).get("/python-logo.png");
    const logo = await Deno.readFile("examples/webapp/python-logo.png");
    assert.equal(response.headers.get("content-type"), "image/png");
    assert.deepEqual(response.body, logo);
  },
});

Deno.test({
  name: "python: the lesson's holamundo.py on a real socket",
  ignore,
  async fn() {
    await using server = listen(python!);
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Hola mundo!/);
    const logo = await fetch(`${server.url}/python-logo.png`);
    assert.equal(logo.headers.get("content-type"), "image/png");
    const bytes = await logo.bytes();
    assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
    assert.deepEqual(server.lines, []);
  },
});

Deno.test({
  name: "python: the trace shows the Python app's flow like a TypeScript one's",
  ignore,
  async fn() {
    const lines: string[] = [];
    const handler = toFetchHandler(python!, {
      trace: (line) => void lines.push(line),
    });
    await (await handler(new Request("http://localhost/"))).bytes();
    assert.match(
      lines.join("\n"),
      /server → app {5}app\(environ, startResponse\)/,
    );
    assert.match(
      lines.join("\n"),
      /startResponse\("200 OK", \[\["Content-type","text\/html; charset=utf-8"\]\]\)/,
    );
    assert.match(
      lines.at(-1)!,
      /server → client {2}200, \d+ bytes from 1 chunk/,
    );
  },
});

// -- the contract, part by part ---------------------------------------------------

const client = contract && new Client(contract);

/** Each path is a 500 whose log holds its line, and nothing `not` matches. */
async function assertRefusals(said: Record<string, string>, not: RegExp) {
  for (const [path, line] of Object.entries(said)) {
    const response = await client!.get(path);
    assert.equal(response.status, 500, path);
    const log = response.errors.join("");
    assert.ok(log.includes(`${line}\n`), log);
    assert.doesNotMatch(log, not);
  }
}

Deno.test({
  name:
    "python: environ is a dict of str, with wsgi.version (1, 0) and bool flags",
  ignore,
  async fn() {
    const response = await client!.post("/environ-types?x=1", {
      body: "a",
      headers: { "User-Agent": "prueba", "Content-Type": "text/plain" },
    });
    assert.equal(
      response.text,
      [
        "version=(1, 0)",
        "method=POST path=/environ-types query=x=1",
        "scheme=http server=localhost:80",
        "agent=prueba type=text/plain",
        "flags=False,False,False",
        "not_str=[]",
        "input=BufferedReader",
        "",
      ].join("\n"),
    );
  },
});

Deno.test({
  name:
    "python: PATH_INFO and SCRIPT_NAME hold the request's bytes as latin-1 (PEP 3333), valid UTF-8 or not",
  ignore,
  async fn() {
    const paths = {
      "/path-bytes/Ad%C3%A1": String.raw`b'/path-bytes/Ad\xc3\xa1'`,
      "/path-bytes/Ad%E1": String.raw`b'/path-bytes/Ad\xe1'`,
      "/path-bytes/%F0%9F%90%8D": String.raw`b'/path-bytes/\xf0\x9f\x90\x8d'`,
      "/path-bytes/Ada": "b'/path-bytes/Ada'",
    };
    for (const [path, expected] of Object.entries(paths)) {
      const response = await client!.get(path);
      assert.equal(response.text, `${expected}\nb''\n`, path);
    }
    // Mounted under a prefix with an accent: SCRIPT_NAME too.
    const { mount } = await import("../mount.ts");
    const mounted = new Client(mount({ "/café": contract! }));
    const response = await mounted.get("/caf%C3%A9/path-bytes/x");
    assert.equal(
      response.text,
      String.raw`b'/path-bytes/x'` + "\n" + String.raw`b'/caf\xc3\xa9'` + "\n",
    );
  },
});

Deno.test({
  name: "python: wsgi.input reads with read(n), readline, readlines and read()",
  ignore,
  async fn() {
    const response = await client!.post("/read-input", {
      body: "abcdef\nuno\ndos\n",
    });
    assert.equal(
      response.text,
      "b'abc'\nb'def\\n'\n[b'uno\\n', b'dos\\n']\nb''\n",
    );
  },
});

Deno.test({
  name:
    "python: wsgi.input iterates line by line; a chunked upload is read whole",
  ignore,
  async fn() {
    const body = ReadableStream.from(
      ["uno\nd", "os\ntres"].map((s) => new TextEncoder().encode(s)),
    );
    const response = await client!.post("/iterate-input", { body });
    assert.equal(response.text, "[b'uno\\n', b'dos\\n', b'tres']\nb''\n");
  },
});

Deno.test({
  name:
    "python: a body over the gateway's limitRequestBody is its 413, declared or streamed",
  ignore,
  async fn() {
    const small = new Client(contract!, { limitRequestBody: 4 });
    const declared = await small.post("/read-input", { body: "12345" });
    assert.equal(declared.status, 413);
    const streamed = await small.post("/read-input", {
      body: ReadableStream.from([new TextEncoder().encode("123456")]),
    });
    assert.equal(streamed.status, 413);
    assert.match(streamed.errors.join(""), /limitRequestBody/);
    const fits = await small.post("/read-input", { body: "1234" });
    assert.equal(fits.status, 200);
  },
});

Deno.test({
  name: "python: wsgi.errors is text written to the gateway's wsgi.errors",
  ignore,
  async fn() {
    const response = await client!.get("/errors");
    assert.equal(response.status, 200);
    assert.equal(
      response.errors.join(""),
      "una línea\ndos tres\ntambién con print\n",
    );
  },
});

Deno.test({
  name:
    "python: a generator streams chunk by chunk, bytes and str, then close()",
  ignore,
  async fn() {
    const lines: string[] = [];
    const traced = new Client(contract!, {
      trace: (line) => void lines.push(line),
    });
    const response = await traced.get("/stream?completo");
    assert.equal(response.text, "uno\ndos\ntres\n");
    assert.equal(lines.filter((l) => / chunk \d: /.test(l)).length, 3);
    assert.ok(lines.some((l) => l.includes("body.close()")));
    const closed = await client!.get("/closed");
    assert.match(closed.text, /'completo'/);
  },
});

Deno.test({
  name: "python: close() is called when the client leaves mid-stream",
  ignore,
  async fn() {
    const { errors, lines } = collector();
    const handler = toFetchHandler(contract!, { errors });
    const response = await handler(
      new Request("http://localhost/stream?abandonado"),
    );
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    const closed = await client!.get("/closed");
    assert.match(closed.text, /'abandonado'/);
    assert.match(lines.join(""), /the client went away/);
  },
});

Deno.test({
  name: "python: write() output goes before the returned body",
  ignore,
  async fn() {
    const response = await client!.get("/write");
    assert.equal(response.text, "escrito con write, y devuelto");
  },
});

Deno.test({
  name: "python: exc_info before the first chunk replaces the status",
  ignore,
  async fn() {
    const response = await client!.get("/exc-before");
    assert.equal(response.statusLine, "503 Service Unavailable");
    assert.equal(response.text, "vuelve en un rato\n");
  },
});

Deno.test({
  name:
    "python: exc_info after the first chunk re-raises; the response is aborted",
  ignore,
  async fn() {
    const response = await client!.get("/exc-after");
    assert.ok(response.aborted);
    assert.equal(response.text, "uno\n");
    const log = response.errors.join("");
    assert.match(log, /aborted after it had started/);
    assert.match(log, /Traceback \(most recent call last\):/);
    assert.match(log, /ValueError: demasiado tarde/);
  },
});

Deno.test({
  name:
    "python: an exception before the first chunk is the gateway's 500, traceback logged",
  ignore,
  async fn() {
    const response = await client!.get("/raise-before");
    assert.equal(response.status, 500);
    assert.doesNotMatch(response.text, /RuntimeError|Traceback/);
    const log = response.errors.join("");
    assert.match(log, /the application raised an error/);
    assert.match(log, /File ".*contract\.py", line \d+, in raise_before/);
    assert.match(log, /RuntimeError: antes del primer trozo/);
    // The traceback is Python's: no glue, no Pyodide, no JavaScript frames.
    assert.doesNotMatch(log, /denowsgi|_pyodide|\n\s+at /);
  },
});

Deno.test({
  name:
    "python: start_response then an exception: the trace shows the call, the client a 500",
  ignore,
  async fn() {
    const lines: string[] = [];
    const handler = toFetchHandler(contract!, {
      trace: (line) => void lines.push(line),
      errors: { write() {}, writelines() {}, flush() {} },
    });
    const response = await handler(
      new Request("http://localhost/start-then-raise"),
    );
    assert.equal(response.status, 500);
    await response.body?.cancel();
    assert.match(
      lines.join("\n"),
      /app → server {5}startResponse\("200 OK", \[\["Content-Type","text\/plain"\]\]\)/,
    );
  },
});

Deno.test({
  name:
    "python: a body that is not an iterable of bytes is a 500 and one line naming it, as wsgiref refuses it",
  ignore,
  async fn() {
    const said = {
      "/bytes-body":
        "TypeError: the application returned bytes, not an iterable of bytes: return a list of it, [body] (PEP 3333)",
      "/str-body":
        "TypeError: the application returned str, not an iterable of bytes: return a list of it, [body] (PEP 3333)",
      "/none-body":
        "TypeError: the application returned None, not an iterable of bytes: return [body] (PEP 3333)",
      "/int-chunk":
        "TypeError: the body gave int 42, not bytes: a WSGI body is an iterable of bytes, such as [b'...'] (PEP 3333)",
    };
    // Neither a file looked for nor a frame of the glue or of JavaScript.
    await assertRefusals(said, /NotFound|readfile|Traceback|\n\s+at /);
    // Yielded after a first chunk: the response is cut, the line the same.
    const response = await client!.get("/int-yielded");
    assert.ok(response.aborted);
    assert.equal(response.text, "uno\n");
    assert.match(response.errors.join(""), /TypeError: the body gave int 42/);
  },
});

Deno.test({
  name: "python: an exception after the first chunk aborts the response",
  ignore,
  async fn() {
    const response = await client!.get("/raise-after");
    assert.ok(response.aborted);
    assert.equal(response.text, "uno\n");
    assert.match(response.errors.join(""), /RuntimeError: después/);
  },
});

Deno.test({
  name:
    "python: start_response's mistakes are raised where the app made them, in Python's words, as wsgiref does",
  ignore,
  async fn() {
    const said = {
      "/bad-status":
        "TypeError: start_response: the status must be a str such as '200 OK', not bytes b'200 OK'",
      "/start-twice":
        "TypeError: start_response was called a second time without exc_info: pass sys.exc_info() as its third argument (PEP 3333)",
      "/int-header":
        "TypeError: start_response: each header must be a (name, value) tuple of str, not ('Content-Length', 5)",
      "/no-start":
        "TypeError: the body came before start_response was called (PEP 3333)",
      "/yield-no-start":
        "TypeError: the body came before start_response was called (PEP 3333)",
    };
    // Python's names, not the gateway's TypeScript ones.
    await assertRefusals(said, /startResponse|excInfo|a Object/);
    // Raised inside start_response: the traceback ends at the app's call.
    const log = (await client!.get("/int-header")).errors.join("");
    assert.match(log, /File ".*contract\.py", line \d+, in int_header/);
    // PEP 3333 allows empty chunks before start_response.
    const late = await client!.get("/empty-then-start");
    assert.equal(late.status, 200);
    assert.equal(late.text, "x");
  },
});

Deno.test({
  name: "python: wsgi.file_wrapper streams a file-like object",
  ignore,
  async fn() {
    const response = await client!.get("/file-wrapper");
    assert.equal(response.body.byteLength, 10000);
  },
});

Deno.test({
  name: "python: a missing callable is one clear error",
  ignore,
  async fn() {
    await assert.rejects(
      loadPythonApp(LESSON, { callable: "nope" }),
      /holamundo\.py has no callable named nope \(it defines: .*hola_mundo_app/,
    );
  },
});

Deno.test({
  name:
    "python: a native extension module is named as such when its import fails",
  ignore: ignore || !inDistPackages("apt_pkg-stubs"),
  async fn() {
    const error = await loadPythonApp("tests/fixtures/native.py", {
      pythonPath: [DIST_PACKAGES],
    }).catch((error) => error);
    assert.ok(error instanceof PythonException);
    assert.match(
      error.message,
      /^cannot import apt_pkg: .*apt_pkg\..*\.so is a native extension module/,
    );
    assert.doesNotMatch(error.message, /\n/);
    assert.match(
      error.stack!,
      /ModuleNotFoundError: No module named 'apt_pkg'/,
    );
  },
});

// -- real frameworks, from Debian's packages ------------------------------------

for (const framework of ["flask", "bottle"] as const) {
  Deno.test({
    name:
      `python: a ${framework} app (python3-${framework}) routes, reads a form, renders a template`,
    ignore: ignore || !HAS[framework],
    async fn() {
      using app = await loadPythonApp(`tests/fixtures/${framework}_app.py`, {
        callable: "app",
        pythonPath: [DIST_PACKAGES],
      });
      const client = new Client(app);
      const index = await client.get("/");
      assert.equal(index.status, 200);
      assert.match(index.text, /^Hola desde (Flask|Bottle)$/);
      const hola = await client.get("/hola/%3Cb%3EAda");
      assert.equal(hola.text, "<h1>Hola &lt;b&gt;Ada</h1>");
      // The framework decodes the path's bytes as UTF-8 itself.
      const accent = await client.get("/hola/Jos%C3%A9");
      assert.equal(accent.text, "<h1>Hola José</h1>");
      const eco = await client.post("/eco", {
        body: new URLSearchParams({ nombre: "Ada Lovelace" }),
      });
      assert.equal(eco.headers.get("content-type"), "application/json");
      assert.deepEqual(eco.json(), { nombre: "Ada Lovelace" });
      const missing = await client.get("/nada");
      assert.equal(missing.status, 404);
      assert.deepEqual(
        [index, hola, accent, eco, missing].flatMap((r) => r.errors),
        [],
      );
    },
  });
}

Deno.test({
  name:
    "python: examples/flask_sqlite, Flask's tutorial pattern on sqlite3 (Deno's SQLite): init_db, a posted row, the page listing rows",
  ignore: ignore || !HAS.flask,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "denowsgi-flask-sqlite-" });
    try {
      for (const name of ["app.py", "schema.sql"]) {
        await Deno.copyFile(`examples/flask_sqlite/${name}`, `${dir}/${name}`);
      }
      const app = await loadPythonApp(`${dir}/app.py`, {
        callable: "app",
        pythonPath: [DIST_PACKAGES],
      });
      // init_db ran as the app loaded: notes.db is in the app's folder.
      assert.ok(Deno.statSync(`${dir}/notes.db`).isFile);
      const client = new Client(app);
      const added = await client.post("/", {
        body: new URLSearchParams({ body: "<b>Ada</b>" }),
      });
      assert.equal(added.status, 302);
      const page = await client.get("/");
      assert.equal(page.status, 200);
      assert.match(page.text, /<li>Hola mundo, from SQLite <small>#1, \d{4}-/);
      assert.match(page.text, /<li>&lt;b&gt;Ada&lt;\/b&gt; <small>#2,/);
      assert.match(page.text, /<p>2 notes<\/p>/);
      assert.deepEqual([added, page].flatMap((r) => r.errors), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// cli/application.ts writes python.ts's signature down itself, to keep
// Pyodide out of server.ts's module graph: this holds the two together.
const _sameShape: PythonModule | string = pythonTs;
