/**
 * The command line end to end: `deno run server.ts …` as a child process,
 * its stdout read line by line, requests sent to it over loopback, and
 * Ctrl+C sent as SIGINT. Also what only a separate process can show: the
 * access log's defaults on standard output and the CLF date in other time
 * zones.
 *
 * The child is `deno` from PATH (the test permissions allow running it by
 * that name); every wait is bounded and every child is killed and awaited.
 *
 * @module
 */

import assert from "node:assert/strict";
import config from "../deno.json" with { type: "json" };
import { lines, runToEnd, within } from "./_process.ts";

const ROOT = new URL("..", import.meta.url);
const CLF_DATE =
  /\[\d\d\/(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]/;
const STACK_FRAME = /^\s+at \S/m;
/** `deno run` for the command line, with the permissions its usage names. */
const SERVER = ["run", "--allow-net", "--allow-read", "server.ts"];

function deno(args: string[], env?: Record<string, string>): Deno.Command {
  return new Deno.Command("deno", {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** A running `server.ts`, read one stdout line at a time. */
class Cli implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  readonly #stderr: Promise<string>;
  #status?: Promise<Deno.CommandStatus>;

  /** `flags`: more permissions for `deno run`, before `server.ts`. */
  constructor(args: string[], flags: string[] = []) {
    this.child = deno([...SERVER.slice(0, -1), ...flags, "server.ts", ...args])
      .spawn();
    this.#lines = lines(this.child.stdout)[Symbol.asyncIterator]();
    this.#stderr = new Response(this.child.stderr).text();
  }

  /** The next line on stdout; fails at the end of output or on time out. */
  async line(): Promise<string> {
    const { done, value } = await within(
      "a line on stdout",
      this.#lines.next(),
    );
    assert.ok(!done, "stdout ended early");
    return value;
  }

  /** Reads the `Serving … on http://HOST:PORT/` line; returns the URL. */
  async listening(what: string): Promise<URL> {
    const line = await this.line();
    const match =
      /^Serving (.+) on (https?:\/\/\S+\/)(?:,.*| with \d+ workers)? \(Ctrl\+C to stop\)$/
        .exec(line);
    assert.ok(match, `unexpected first line: ${line}`);
    assert.equal(match[1], what);
    return new URL(match[2]);
  }

  /** Sends Ctrl+C (or `signal`); returns the rest of stdout, stderr and the exit code. */
  async stop(
    signal: Deno.Signal = "SIGINT",
  ): Promise<{ rest: string[]; stderr: string; code: number }> {
    this.child.kill(signal);
    return await this.finish();
  }

  /** Waits for the exit; returns the rest of stdout, stderr and the exit code. */
  async finish(): Promise<{ rest: string[]; stderr: string; code: number }> {
    const rest: string[] = [];
    for (let next; !(next = await within("stdout", this.#lines.next())).done;) {
      rest.push(next.value);
    }
    this.#status ??= this.child.status;
    const { code } = await within("the exit", this.#status);
    return { rest, stderr: await this.#stderr, code };
  }

  /** Whatever happened, the child is gone and its pipes are drained. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.finish().catch(() => {});
  }
}

/** `deno ARGS` in the project's folder, run to its end (or killed). */
function run(
  args: string[],
  env?: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runToEnd("deno", { args, cwd: ROOT, env });
}

async function get(
  url: URL | string,
): Promise<{ status: number; text: string }> {
  const response = await within("a response", fetch(url));
  return { status: response.status, text: await response.text() };
}

// ---------------------------------------------------------------------------
// Good runs
// ---------------------------------------------------------------------------

Deno.test("cli: the lesson's app by name, a request, its log line, Ctrl+C", async () => {
  await using cli = new Cli([
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "examples/holamundo.ts:holaMundoApp",
  ]);
  const url = await cli.listening("examples/holamundo.ts:holaMundoApp");
  assert.equal(url.hostname, "127.0.0.1");
  assert.notEqual(url.port, "0", "the port the system chose is printed");
  const { status, text } = await get(new URL("/python-logo.png", url));
  assert.equal(status, 200);
  assert.match(text, /<p>Hola mundo!<\/p>/);
  assert.equal(
    (await cli.line()).replace(CLF_DATE, "[DATE]"),
    '127.0.0.1 - - [DATE] "GET /python-logo.png HTTP/1.1" 200 181',
  );
  assert.deepEqual(await cli.stop(), {
    rest: ["Stopped."],
    stderr: "",
    code: 0,
  });
});

Deno.test("cli: --static PREFIX=DIR serves files beside the app, which keeps every other path", async () => {
  await using cli = new Cli([
    "--port=0",
    "--host=127.0.0.1",
    "--no-access-log",
    "--static",
    "/static=examples",
    "--static=/fixtures=tests/fixtures/static",
    "examples/holamundo.ts:holaMundoApp",
  ]);
  const url = await cli.listening("examples/holamundo.ts:holaMundoApp");
  const logo = await within(
    "the logo",
    fetch(new URL("/static/python-logo.png", url)),
  );
  assert.equal(logo.status, 200);
  assert.equal(logo.headers.get("content-type"), "image/png");
  assert.deepEqual(
    await logo.bytes(),
    await Deno.readFile(new URL("examples/python-logo.png", ROOT)),
  );
  assert.equal(
    (await get(new URL("/fixtures/hello.txt", url))).text,
    "Hola desde un archivo\n",
  );
  const page = await get(new URL("/python-logo.png", url));
  assert.match(page.text, /<p>Hola mundo!<\/p>/, "outside the prefix: the app");
  assert.equal((await cli.stop()).code, 0);
});

Deno.test("cli: the lesson's holamundo.py, verbatim, with --trace", async () => {
  const lesson = "examples/webapp/holamundo.py:hola_mundo_app";
  await using cli = new Cli(["--trace", "-b", "127.0.0.1:0", lesson]);
  assert.match(
    await cli.line(),
    /^Python 3\.\d+\.\d+ \(Pyodide\) started in \d+\.\d s$/,
  );
  const url = await cli.listening(lesson);
  const response = await within(
    "a response",
    fetch(new URL("/python-logo.png", url)),
  );
  assert.equal(response.headers.get("content-type"), "image/png");
  assert.deepEqual(
    await response.bytes(),
    await Deno.readFile(new URL("examples/webapp/python-logo.png", ROOT)),
  );
  const trace: string[] = [];
  for (let line = await cli.line(); line.startsWith("[trace");) {
    trace.push(line);
    line = await cli.line();
  }
  assert.ok(
    trace.includes(
      '[trace #1]                    PATH_INFO = "/python-logo.png"',
    ),
  );
  assert.ok(
    trace.some((line) =>
      line.includes('startResponse("200 OK", [["Content-type","image/png"]])')
    ),
  );
  assert.match(trace.at(-1)!, /server → client {2}200, 125 bytes from 1 chunk/);
  assert.equal((await cli.stop()).code, 0);
});

Deno.test("cli: a module's default export, and -b HOST:PORT", async () => {
  await using cli = new Cli(["-b", "127.0.0.1:0", "tests/fixtures/apps.ts"]);
  const url = await cli.listening("tests/fixtures/apps.ts");
  assert.equal(url.hostname, "127.0.0.1");
  assert.deepEqual(await get(new URL("/hi", url)), {
    status: 200,
    text: "default export at /hi\n",
  });
  assert.match(
    await cli.line(),
    /^127\.0\.0\.1 - - \[.+\] "GET \/hi HTTP\/1\.1" 200 22$/,
  );
  assert.equal((await cli.stop()).code, 0);
});

Deno.test("cli: --bind=HOST:PORT and a named export of the same module", async () => {
  await using cli = new Cli([
    "--bind=127.0.0.1:0",
    "tests/fixtures/apps.ts:named",
  ]);
  const url = await cli.listening("tests/fixtures/apps.ts:named");
  assert.equal((await get(url)).text, "named export at /\n");
  assert.equal((await cli.stop()).code, 0);
});

Deno.test("cli: no module serves the demo app, which shows the environ", async () => {
  await using cli = new Cli(["--host=127.0.0.1", "--port=0"]);
  const url = await cli.listening("the demo app");
  const { status, text } = await get(new URL("/demo?x=1", url));
  assert.equal(status, 200);
  const shown = text.split("\n");
  assert.equal(shown[0], "Hola mundo!");
  for (
    const line of [
      'PATH_INFO = "/demo"',
      'QUERY_STRING = "x=1"',
      'REQUEST_METHOD = "GET"',
      `SERVER_PORT = "${url.port}"`,
      'wsgi.url_scheme = "http"',
    ]
  ) assert.ok(shown.includes(line), `missing ${line} in:\n${text}`);
  assert.equal((await cli.stop()).code, 0);
});

Deno.test("cli: with its defaults, a Host never moves the path, and HTTP/1.0 with no Host is served", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denowsgi-" });
  await Deno.writeTextFile(`${dir}/a.txt`, "secret\n");
  try {
    await using cli = new Cli([
      "--host=127.0.0.1",
      "--port=0",
      "--static",
      `/pub=${dir}`,
    ], [`--allow-read=${dir}`]);
    const url = await cli.listening("the demo app");
    const { exchange } = await import("./_helpers.ts");
    const send = async (request: string) =>
      await exchange(
        await Deno.connect({ hostname: "127.0.0.1", port: Number(url.port) }),
        request,
      );
    const admin = await send(
      "GET /hello HTTP/1.1\r\nHost: x/admin\r\nConnection: close\r\n\r\n",
    );
    assert.match(admin, /^HTTP\/1\.1 400 /);
    const file = await send(
      "GET /a.txt HTTP/1.1\r\nHost: x/pub\r\nConnection: close\r\n\r\n",
    );
    assert.match(file, /^HTTP\/1\.1 400 /);
    assert.doesNotMatch(file, /secret/);
    const old = await send("GET /hello HTTP/1.0\r\n\r\n");
    assert.match(old, /^HTTP\/1\.0 200 /);
    assert.match(old, /PATH_INFO = "\/hello"/);
    assert.doesNotMatch(old, /HTTP_HOST/);
    const { rest, stderr, code } = await cli.stop();
    assert.equal(code, 0);
    // One line for each refusal, naming the rule; the access log has all three.
    assert.equal(
      stderr.split("\n").filter((line) => /is not a host/.test(line)).length,
      2,
      stderr,
    );
    assert.equal(rest.filter((line) => /" 400 /.test(line)).length, 2);
    assert.equal(
      rest.filter((line) => /"GET \/hello HTTP\/1\.1" 200 /.test(line)).length,
      1,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: stopped while standard output is stuck, it still says how many log lines were lost", async () => {
  const child = deno([...SERVER.slice(0, -1), "server.ts", "-b", "127.0.0.1:0"])
    .spawn();
  const stderr = new Response(child.stderr).text();
  // Only the first line is read: then nobody reads the pipe.
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { value, done } = await within("the first line", reader.read());
    assert.ok(!done);
    first += value;
  }
  const url = /on (http:\/\/\S+\/)/.exec(first)![1];
  // Far more lines than a pipe holds (64 KiB): the rest wait in the spool.
  let sent = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (sent < 2400) {
      sent++;
      await (await fetch(url)).body?.cancel();
    }
  }));
  child.kill("SIGTERM");
  const { code } = await within("the exit", child.status);
  const said = await stderr;
  await reader.cancel();
  assert.equal(code, 0, said);
  const lost = /\[wsgi\] (\d+) log lines were dropped/.exec(said);
  assert.ok(lost, said);
  assert.ok(Number(lost[1]) > 0 && Number(lost[1]) <= 2400, said);
});

Deno.test("cli: --trace prints the flow, then the access log line", async () => {
  await using cli = new Cli([
    "-b",
    "127.0.0.1:0",
    "--trace",
    "examples/holamundo.ts:holaMundoApp",
  ]);
  const url = await cli.listening("examples/holamundo.ts:holaMundoApp");
  await get(new URL("/traced", url));
  const printed: string[] = [];
  while (!printed.at(-1)?.startsWith("127.0.0.1 - - ")) {
    printed.push(await cli.line());
  }
  const steps = printed.filter((line) => !line.startsWith("[trace #1]   "));
  assert.deepEqual(
    steps.map((line) =>
      line.replace(/ \(\+\d+\.\d\d ms\)$/, "").replace(/\d+\.\d\d ms/, "T ms")
        .replace(CLF_DATE, "[DATE]")
    ),
    [
      "[trace #1] client → server  GET /traced",
      "[trace #1] server → app     environ:",
      "[trace #1] server → app     app(environ, startResponse)",
      '[trace #1] app → server     startResponse("200 OK", [["Content-type","text/html; charset=utf-8"]])',
      "[trace #1] app → server     chunk 1: 181 bytes",
      "[trace #1] server → client  200, 181 bytes from 1 chunk, T ms in all",
      '127.0.0.1 - - [DATE] "GET /traced HTTP/1.1" 200 181',
    ],
  );
  assert.ok(
    printed.includes('[trace #1]                    PATH_INFO = "/traced"'),
  );
  assert.equal((await cli.stop()).code, 0);
});

for (
  const app of ["tests/fixtures/apps.ts:printing", "tests/fixtures/printing.py"]
) {
  Deno.test(`cli: --trace keeps what the view prints in its place in the flow (${app})`, async () => {
    await using cli = new Cli(["-b", "127.0.0.1:0", "--trace", app]);
    let first = await cli.line();
    // A Python app first says how long Python took to start.
    if (first.startsWith("Python ")) first = await cli.line();
    assert.match(first, /^Serving /);
    const url = new URL(/(http:\S+\/)/.exec(first)![1]);
    await get(new URL("/x", url));
    const printed: string[] = [];
    while (!printed.at(-1)?.startsWith("127.0.0.1 - - ")) {
      printed.push(await cli.line());
    }
    const steps = printed.filter((line) => !line.startsWith("[trace #1]   "))
      .map((line) => line.replace(/ \(\+\d+\.\d\d ms\)$/, ""));
    assert.deepEqual(steps.slice(0, 4), [
      "[trace #1] client → server  GET /x",
      "[trace #1] server → app     environ:",
      "[trace #1] server → app     app(environ, startResponse)",
      "VISTA: empiezo",
    ]);
    assert.equal(
      steps.at(-2)!.replace(/\d+\.\d\d ms/, "T ms"),
      "[trace #1] server → client  200, 3 bytes from 1 chunk, T ms in all",
    );
    assert.equal((await cli.stop()).code, 0);
  });
}

Deno.test("cli: --trace with its standard output gone still answers every request", async () => {
  const child = deno([
    ...SERVER,
    "-b",
    "127.0.0.1:0",
    "--trace",
    "examples/holamundo.ts:holaMundoApp",
  ]).spawn();
  const stderr = new Response(child.stderr).text();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) first += (await out.read()).value ?? "";
  const url = /(http:\S+\/)/.exec(first)![1];
  // The reader goes away, as `| head -c 10` would.
  await out.cancel();
  for (let i = 0; i < 3; i++) {
    assert.equal((await get(new URL(`/${i}`, url))).status, 200);
  }
  child.kill("SIGTERM");
  assert.equal((await child.status).code, 0);
  const said = await stderr;
  assert.doesNotMatch(said, /internal error|BrokenPipe.*\n\s+at /);
});

Deno.test("cli: --no-access-log prints no CLF line", async () => {
  await using cli = new Cli([
    "-b",
    "127.0.0.1:0",
    "--no-access-log",
    "tests/fixtures/apps.ts",
  ]);
  const url = await cli.listening("tests/fixtures/apps.ts");
  assert.equal((await get(url)).status, 200);
  assert.deepEqual(await cli.stop(), {
    rest: ["Stopped."],
    stderr: "",
    code: 0,
  });
});

Deno.test("cli: --help prints the usage and exits 0", async () => {
  for (const flag of ["--help", "-h"]) {
    const { code, stdout, stderr } = await run([
      ...SERVER,
      flag,
    ]);
    assert.equal(code, 0);
    assert.equal(stderr, "");
    assert.match(stdout, /^Serves a WSGI application with Deno\.\n/);
    for (
      const option of [
        "module[:name]",
        "--bind",
        "--host",
        "--port",
        "--access-log",
        "--no-access-log",
        "--trace",
        "--static",
        "--help",
      ]
    ) {
      assert.ok(stdout.includes(option), `the usage names ${option}`);
    }
  }
});

Deno.test("cli: --check-config loads the application and exits without listening; a module that throws as it loads exits 1 with its stack", async () => {
  const loaded = await run([
    ...SERVER,
    "--check-config",
    "tests/fixtures/apps.ts",
  ]);
  assert.deepEqual(loaded, { code: 0, stdout: "", stderr: "" });
  const throws = await run([
    ...SERVER,
    "--check-config",
    "tests/fixtures/throws.ts",
  ]);
  assert.equal(throws.code, 1);
  assert.equal(throws.stdout, "");
  assert.match(throws.stderr, /the settings are missing/);
  assert.match(throws.stderr, STACK_FRAME);
});

// ---------------------------------------------------------------------------
// Mistakes: one line on stderr, exit 2, no stack
// ---------------------------------------------------------------------------

const MISTAKES: [string[], string][] = [
  [
    ["tests/fixtures/missing.ts"],
    "cannot import tests/fixtures/missing.ts: Module not found",
  ],
  [
    ["tests/fixtures/apps.ts:nope"],
    "tests/fixtures/apps.ts has no export named nope that is a function (it exports: default, failing, named, printing)",
  ],
  [
    ["examples/holamundo.ts"],
    "examples/holamundo.ts has no default export that is a function (it exports: holaMundoApp, listenOrExit)",
  ],
  [["--bogus"], "unknown option --bogus"],
  [["--port", "99999"], "the port must be a number from 0 to 65535, got 99999"],
  [["--port=eighty"], "the port must be a number from 0 to 65535, got eighty"],
  [["-b", "[]:80"], "--bind wants [IPv6]:PORT, got []:80"],
  [
    ["--log-level", "loud"],
    "--log-level wants one of debug, info, warning, error, critical, got loud",
  ],
  [["--umask", "9"], "--umask wants an octal mask such as 007, got 9"],
  [
    ["-c", "tests/fixtures/missing.json"],
    "-c tests/fixtures/missing.json: cannot read it (NotFound)",
  ],
  [
    ["-c", "tests/fixtures/bad_config.json"],
    "-c tests/fixtures/bad_config.json: unknown setting wrokers",
  ],
  [["--port"], "--port needs a value"],
  [
    ["--check-config", "tests/fixtures/apps.ts:nope"],
    "tests/fixtures/apps.ts has no export named nope that is a function",
  ],
  [
    ["tests/fixtures/apps.ts", "examples/holamundo.ts"],
    "one module at a time, got tests/fixtures/apps.ts and examples/holamundo.ts",
  ],
  [["--host", ""], "the host must not be empty"],
  [["-w", "0"], "-w wants a whole number ≥ 1, got 0"],
  [["--timeout", "-1"], "--timeout wants seconds (a number ≥ 0), got -1"],
  [["--proxy-hops", "one"], "--proxy-hops wants a whole number ≥ 0, got one"],
  [
    ["--send-timeout", "0x10"],
    "--send-timeout wants seconds (a number ≥ 0), got 0x10",
  ],
  [
    ["--limit-request-body", "9".repeat(20)],
    `--limit-request-body wants a whole number ≥ 0, got ${"9".repeat(20)}`,
  ],
  [
    ["--app-timeout", "1e309"],
    "--app-timeout wants seconds (a number ≥ 0), got 1e309",
  ],
  [
    ["--limit-request-target", "1.5"],
    "--limit-request-target wants a whole number ≥ 0, got 1.5",
  ],
  [["--max-requests", "-1"], "--max-requests wants a whole number ≥ 0, got -1"],
  [
    ["--max-requests-jitter", "1.5"],
    "--max-requests-jitter wants a whole number ≥ 0, got 1.5",
  ],
  [
    ["--reload", "--reload-extra-file", "nope.txt"],
    "--reload-extra-file nope.txt: no such file",
  ],
  [["--reload-extra-file", "deno.json"], "--reload-extra-file needs --reload"],
  [["--certfile", "cert.pem"], "--certfile and --keyfile go together"],
  // Worker processes need --allow-run=deno; the error names what asked.
  [
    ["--reload", "-b", "127.0.0.1:0", "tests/fixtures/apps.ts"],
    "--reload starts worker processes: run server.ts with --allow-run=deno",
  ],
  [
    ["-w", "2", "-b", "127.0.0.1:0", "tests/fixtures/apps.ts"],
    "-w 2 starts worker processes: run server.ts with --allow-run=deno",
  ],
  [
    ["-w", "2", "-b", "unix:/tmp/x.sock"],
    "-w 2 starts worker processes, which can share a TCP port but not unix:/tmp/x.sock",
  ],
  [
    ["--static", "static=examples"],
    "--static wants URL_PREFIX=DIR, got static=examples",
  ],
  [["--static", "/static"], "--static wants URL_PREFIX=DIR, got /static"],
  [
    ["--static", "/s=examples/holamundo.ts"],
    "--static /s=examples/holamundo.ts: examples/holamundo.ts is not a directory",
  ],
  // A documentation address (RFC 5737): no interface here has it.
  [
    ["--host", "203.0.113.1", "--port", "0"],
    "cannot listen on 203.0.113.1:0: ",
  ],
];

for (const [args, message] of MISTAKES) {
  Deno.test(`cli: ${args.join(" ")} → one-line error, exit 2`, async () => {
    const { code, stdout, stderr } = await run([
      ...SERVER,
      ...args,
    ]);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.doesNotMatch(stderr, STACK_FRAME);
    const printed = stderr.split("\n");
    assert.equal(printed.length, 2, `one line, then the newline:\n${stderr}`);
    assert.ok(
      printed[0].startsWith(`server.ts: error: ${message}`),
      `got: ${printed[0]}`,
    );
  });
}

Deno.test("cli: a port already in use → one-line error, exit 2", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { code, stdout, stderr } = await run([
    ...SERVER,
    "-b",
    `127.0.0.1:${taken.addr.port}`,
  ]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /^server\.ts: error: .+\n$/);
  assert.doesNotMatch(stderr, STACK_FRAME);
});

Deno.test("cli: a port already in use is named in the error", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { stderr } = await run([
    ...SERVER,
    "-b",
    `127.0.0.1:${taken.addr.port}`,
  ]);
  assert.ok(
    stderr.includes(`cannot listen on 127.0.0.1:${taken.addr.port}`),
    stderr,
  );
});

// ---------------------------------------------------------------------------
// The access log seen from outside the process
// ---------------------------------------------------------------------------

Deno.test("access log: on by default for makeServer, off by default for serve", async () => {
  const script = `
    import { makeServer, serve } from "./mod.ts";
    const app = (_environ, startResponse) => {
      startResponse("200 OK", []);
      return ["ok"];
    };
    const httpd = makeServer("127.0.0.1", 0, app);
    await (await fetch(\`http://127.0.0.1:\${httpd.serverPort}/made\`)).text();
    await httpd.shutdown();
    const server = serve(app, { hostname: "127.0.0.1", port: 0, onListen() {} });
    await (await fetch(\`http://127.0.0.1:\${server.addr.port}/served\`)).text();
    await server.shutdown();
    console.log("done");
  `;
  const { code, stdout, stderr } = await run(["eval", "--ext=js", script]);
  assert.equal(stderr, "");
  assert.equal(code, 0);
  assert.equal(
    stdout.replace(CLF_DATE, "[DATE]"),
    '127.0.0.1 - - [DATE] "GET /made HTTP/1.1" 200 2\ndone\n',
  );
});

Deno.test("commonLogLine: the zone offset in other time zones", async () => {
  // 12:00 UTC, seen from zones west and east, on the half hour, and past
  // the date line. Ask the child, since a process's time zone is fixed.
  const zones: [string, string][] = [
    ["UTC", "15/Jan/2026:12:00:00 +0000"],
    ["America/Los_Angeles", "15/Jan/2026:04:00:00 -0800"],
    ["America/St_Johns", "15/Jan/2026:08:30:00 -0330"],
    ["Asia/Kolkata", "15/Jan/2026:17:30:00 +0530"],
    ["Pacific/Kiritimati", "16/Jan/2026:02:00:00 +1400"],
  ];
  const script = `
    import { commonLogLine } from "./gateway/log.ts";
    const environ = { REQUEST_METHOD: "GET", REQUEST_URI: "/", SERVER_PROTOCOL: "HTTP/1.1" };
    console.log(commonLogLine(environ, 200, 5, new Date(Date.UTC(2026, 0, 15, 12))));
  `;
  for (const [zone, date] of zones) {
    const { code, stdout, stderr } = await run(["eval", "--ext=js", script], {
      TZ: zone,
    });
    assert.equal(stderr, "");
    assert.equal(code, 0);
    assert.equal(stdout, `- - - [${date}] "GET / HTTP/1.1" 200 5\n`, zone);
  }
});

Deno.test("cli: --no-access-log then --access-log: the last one wins", async () => {
  await using cli = new Cli([
    "-b",
    "127.0.0.1:0",
    "--no-access-log",
    "--access-log",
    "tests/fixtures/apps.ts",
  ]);
  const url = await cli.listening("tests/fixtures/apps.ts");
  assert.equal((await get(url)).status, 200);
  assert.match(
    await cli.line(),
    /^127\.0\.0\.1 - - \[.+\] "GET \/ HTTP\/1\.1" 200 /,
  );
  assert.equal((await cli.stop()).code, 0);
});

// ---------------------------------------------------------------------------
// Loading a module, and stopping
// ---------------------------------------------------------------------------

Deno.test("cli: a module whose file name holds # and %20 loads and serves", async () => {
  const module = "tests/fixtures/odd #name%20.ts";
  await using cli = new Cli(["-b", "127.0.0.1:0", "--no-access-log", module]);
  const url = await cli.listening(module);
  assert.deepEqual(await get(url), {
    status: 200,
    text: "loaded from odd #name%20.ts\n",
  });
  assert.equal((await cli.stop()).code, 0);
});

Deno.test("cli: a module that throws while loading exits non-zero and shows its stack", async () => {
  const { code, stdout, stderr } = await run([
    ...SERVER,
    "tests/fixtures/throws.ts",
  ], { NO_COLOR: "1" });
  assert.notEqual(code, 0);
  assert.equal(stdout, "");
  assert.ok(stderr.includes("the settings are missing"), stderr);
  assert.match(stderr, STACK_FRAME);
  assert.ok(stderr.includes("tests/fixtures/throws.ts:"), stderr);
});

/**
 * Waits until `url`'s port refuses connections, which a server does once
 * it is shutting down; a bounded number of tries.
 */
async function refused(url: URL): Promise<void> {
  for (let tries = 0; tries < 2000; tries++) {
    try {
      const conn = await Deno.connect({
        hostname: url.hostname,
        port: Number(url.port),
      });
      conn.close();
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionRefused) return;
      // A connect that races the listener's close is reset: probe again.
      if (
        !(error instanceof Deno.errors.ConnectionReset ||
          error instanceof Deno.errors.ConnectionAborted)
      ) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`${url} still accepts connections`);
}

Deno.test("cli: a first Ctrl+C lets an open stream go on, a second one quits with 130", async () => {
  await using cli = new Cli([
    "-b",
    "127.0.0.1:0",
    "--no-access-log",
    "tests/fixtures/ticks.ts",
  ]);
  const url = await cli.listening("tests/fixtures/ticks.ts");
  const response = await within("a response", fetch(url));
  const reader = response.body!.pipeThrough(new TextDecoderStream())
    .getReader();
  try {
    assert.match((await within("a tick", reader.read())).value!, /^tick 1\n/);
    cli.child.kill("SIGINT");
    await refused(url);
    assert.match(
      (await within("a tick after Ctrl+C", reader.read())).value!,
      /^tick \d+\n/,
    );
    const { rest, stderr, code } = await cli.stop();
    assert.deepEqual({ rest, code }, { rest: [], code: 130 });
    // The first Ctrl+C says what it waits for (issue 10; it was silent).
    assert.match(
      stderr,
      /^Stopping: waiting for 1 request in flight \(up to 30 s; Ctrl\+C again to quit now\)\n$/,
    );
  } finally {
    await reader.cancel().catch(() => {});
  }
});

Deno.test("cli: SIGTERM stops an idle server, which says Stopped. and exits 0", async () => {
  await using cli = new Cli(["-b", "127.0.0.1:0", "tests/fixtures/apps.ts"]);
  await cli.listening("tests/fixtures/apps.ts");
  assert.deepEqual(await cli.stop("SIGTERM"), {
    rest: ["Stopped."],
    stderr: "",
    code: 0,
  });
});

Deno.test("cli: Ctrl+C lets a response in flight finish, then says Stopped.", async () => {
  await using cli = new Cli([
    "-b",
    "127.0.0.1:0",
    "--no-access-log",
    "tests/fixtures/slow.ts",
  ]);
  const url = await cli.listening("tests/fixtures/slow.ts");
  const response = await within("a response", fetch(url));
  const reader = response.body!.pipeThrough(new TextDecoderStream())
    .getReader();
  try {
    let received = (await within("the first chunk", reader.read())).value!;
    assert.equal(received, "uno\n");
    // Ctrl+C while the fixture still owes "dos\n".
    const stopped = cli.stop();
    stopped.catch(() => {});
    for (let step; !(step = await within("the rest", reader.read())).done;) {
      received += step.value;
    }
    assert.equal(received, "uno\ndos\n");
    assert.deepEqual(await stopped, {
      rest: ["Stopped."],
      stderr:
        "Stopping: waiting for 1 request in flight (up to 30 s; Ctrl+C again to quit now)\n",
      code: 0,
    });
  } finally {
    await reader.cancel().catch(() => {});
  }
});

// ---------------------------------------------------------------------------
// What only a separate process shows: deno serve, the examples, the
// default wsgi.errors, the dependencies
// ---------------------------------------------------------------------------

Deno.test("deno serve: a module exporting { fetch: toFetchHandler(app) } serves it", async () => {
  const child = deno([
    "serve",
    "--allow-net=127.0.0.1",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "tests/fixtures/served.ts",
  ]).spawn();
  const stdout = new Response(child.stdout).text();
  const stderr = lines(child.stderr)[Symbol.asyncIterator]();
  try {
    const { value } = await within("the listening line", stderr.next());
    const match = /Listening on (http:\/\/\S+)/.exec(value ?? "");
    assert.ok(match, `unexpected first line: ${value}`);
    assert.deepEqual(await get(new URL("/hola", match[1])), {
      status: 200,
      text: "served at /hola\n",
    });
  } finally {
    child.kill("SIGKILL");
    while (!(await within("stderr", stderr.next())).done);
    await within("the exit", child.status);
    await stdout;
  }
});

Deno.test("examples: a busy port gets the Spanish line and exit code 1", async () => {
  const script = `
    import { listenOrExit } from "./examples/holamundo.ts";
    listenOrExit(8000, () => { throw new Deno.errors.AddrInUse("x"); });
  `;
  assert.deepEqual(await run(["eval", script]), {
    code: 1,
    stdout: "",
    stderr:
      "El puerto 8000 ya está en uso: detén el otro servidor (Ctrl+C) o cambia el puerto.\n",
  });
});

Deno.test("wsgi.errors: by default it writes to standard error", async () => {
  const script = `
    import { toFetchHandler } from "./mod.ts";
    const handler = toFetchHandler((environ, startResponse) => {
      environ["wsgi.errors"].write("hola\\n");
      startResponse("200 OK", []);
      return [];
    });
    await (await handler(new Request("http://localhost/"))).text();
  `;
  assert.deepEqual(await run(["eval", script]), {
    code: 0,
    stdout: "",
    stderr: "hola\n",
  });
});

/**
 * The optional module python.ts, the one package it may import, and the
 * Deno built-ins its sqlite3 for Python stands on (python/sqlite_bridge.ts).
 */
const OPTIONAL: Record<string, string[]> = {
  "./python.ts": [
    `npm:/pyodide@${config.imports.pyodide.split("@").at(-1)}`,
    "node:sqlite",
    "node:crypto",
  ],
};

Deno.test("zero runtime dependencies: every export loads only the package's own files (python.ts: its pinned pyodide too)", async () => {
  for (const entry of Object.values(config.exports)) {
    const { code, stdout, stderr } = await run(["info", "--json", entry]);
    assert.equal(code, 0, stderr);
    const graph: { modules: { specifier: string }[] } = JSON.parse(stdout);
    const allowed = OPTIONAL[entry] ?? [];
    for (const { specifier } of graph.modules) {
      assert.ok(
        allowed.includes(specifier) || specifier.startsWith(ROOT.href) &&
            !specifier.startsWith(new URL("tests/", ROOT).href),
        `${entry} depends on ${specifier}`,
      );
    }
  }
});

// ---------------------------------------------------------------------------
// Run it for real (issue 10): binds, workers, the graceful stop
// ---------------------------------------------------------------------------

Deno.test("cli: -b :PORT is every interface, as gunicorn reads it; -b repeats", async () => {
  const { parseCommand } = await import("../cli/command.ts");
  assert.deepEqual(parseCommand(["-b", ":8000"]).binds, [
    { hostname: "0.0.0.0", port: 8000 },
  ]);
  assert.deepEqual(
    parseCommand(["-b", "[::1]:1", "-b", "unix:/run/app.sock"]).binds,
    [{ hostname: "::1", port: 1 }, { path: "/run/app.sock" }],
  );
  assert.deepEqual(parseCommand([]).binds, [
    { hostname: "localhost", port: 8000 },
  ]);
  // A host alone is port 8000, as gunicorn reads it; IPv6 in brackets.
  assert.deepEqual(parseCommand(["-b", "127.0.0.1", "-b", "[::1]"]).binds, [
    { hostname: "127.0.0.1", port: 8000 },
    { hostname: "::1", port: 8000 },
  ]);
});

Deno.test("cli: two -b, one of them unix:PATH, serve the same app", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denowsgi-" });
  const socket = `${dir}/app.sock`;
  try {
    await using cli = new Cli(
      ["-b", "127.0.0.1:0", "-b", `unix:${socket}`, "tests/fixtures/apps.ts"],
      [`--allow-write=${dir}`],
    );
    const line = await cli.line();
    const match =
      /^Serving tests\/fixtures\/apps\.ts on (http:\S+\/), unix:(\S+) \(Ctrl\+C to stop\)$/
        .exec(line);
    assert.ok(match, line);
    assert.equal(match[2], socket);
    assert.equal((await get(match[1])).text, "default export at /\n");
    const curl = await new Deno.Command("curl", {
      args: ["-s", "--unix-socket", socket, "http://x/sock"],
    }).output();
    assert.equal(
      new TextDecoder().decode(curl.stdout),
      "default export at /sock\n",
    );
    const { code } = await cli.stop("SIGTERM");
    assert.equal(code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const workers of [1, 2]) {
  Deno.test(`cli: -w ${workers}: SIGTERM waits for the request in flight, ends it at --graceful-timeout with close() called, exits 0`, async () => {
    await using cli = new Cli([
      "-b",
      "127.0.0.1:0",
      "-w",
      String(workers),
      "--no-access-log",
      "--graceful-timeout",
      "0.5",
      "tests/fixtures/endless.ts",
    ], ["--allow-run=deno"]);
    const url = await cli.listening("tests/fixtures/endless.ts");
    const response = await within("a response", fetch(url));
    const reader = response.body!.getReader();
    assert.ok((await within("a tick", reader.read())).value);
    cli.child.kill("SIGTERM");
    await refused(url);
    // Still streaming after SIGTERM, until the grace period is over.
    assert.ok((await within("a tick after SIGTERM", reader.read())).value);
    await assert.rejects(async () => {
      while (!(await within("the end", reader.read())).done);
    });
    const { rest, stderr, code } = await cli.finish();
    assert.equal(code, 0);
    assert.equal(rest.length, 2, rest.join("\n"));
    assert.equal(rest[0], "closed");
    assert.equal(rest[1], "Stopped.");
    assert.match(
      stderr,
      /Stopping: waiting for 1 request in flight \(up to 0\.5 s/,
    );
    assert.match(
      stderr,
      /Graceful timeout \(0\.5 s\): ended 1 response still running/,
    );
  });
}

Deno.test("cli: -w 2 lets a slow request in flight finish, then says Stopped.", async () => {
  await using cli = new Cli(
    [
      "-b",
      "127.0.0.1:0",
      "-w",
      "2",
      "--no-access-log",
      "tests/fixtures/slow.ts",
    ],
    ["--allow-run=deno"],
  );
  const url = await cli.listening("tests/fixtures/slow.ts");
  const response = await within("a response", fetch(url));
  const text = response.text();
  cli.child.kill("SIGINT");
  assert.equal(await within("the body", text), "uno\ndos\n");
  const { rest, code } = await cli.finish();
  assert.deepEqual({ rest, code }, { rest: ["Stopped."], code: 0 });
});

/** A GET on a fresh connection, so the kernel may give it to any worker. */
async function fresh(url: string): Promise<string> {
  using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  return await (await fetch(url, { client })).text();
}

/**
 * A request spinning the CPU until the test creates a file, and fast
 * requests beside it: the order in which they complete.
 */
async function completionOrder(workers: number): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "denowsgi-" });
  const gate = `${dir}/open`;
  try {
    await using cli = new Cli([
      "-b",
      "127.0.0.1:0",
      "-w",
      String(workers),
      "--no-access-log",
      "tests/fixtures/cpu.ts",
    ], ["--allow-run=deno"]);
    const url = await cli.listening("tests/fixtures/cpu.ts");
    const order: string[] = [];
    const slow = fresh(`${url}gate?file=${gate}`).then(() =>
      order.push("slow")
    );
    // Time for the slow one to reach the app first; nothing is timed.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const fasts = Array.from(
      { length: 8 },
      () =>
        fresh(`${url}fast`).then((text) => {
          order.push("fast");
          return text;
        }),
    );
    // With one worker nothing completes while it spins: open the gate once
    // the fast ones are sent; with two, once one of them has completed.
    await (workers === 1 ? Promise.resolve() : Promise.any(fasts));
    await Deno.writeTextFile(gate, "");
    const texts = await within("every answer", Promise.all([slow, ...fasts]));
    assert.equal(texts.length, 9);
    assert.equal((await cli.stop("SIGTERM")).code, 0);
    return order;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cli: -w 1: a request spinning the CPU holds every other one", async () => {
  const order = await completionOrder(1);
  assert.equal(order[0], "slow", order.join(" "));
});

Deno.test("cli: -w 2: a fast request completes while a slow one still spins", async () => {
  const order = await completionOrder(2);
  assert.equal(order[0], "fast", order.join(" "));
});

Deno.test("cli: -w 2 sets wsgi.multiprocess", async () => {
  await using cli = new Cli(
    [
      "-b",
      "127.0.0.1:0",
      "-w",
      "2",
      "--no-access-log",
      "tests/fixtures/cpu.ts",
    ],
    ["--allow-run=deno"],
  );
  const url = await cli.listening("tests/fixtures/cpu.ts");
  assert.match((await get(url)).text, /\(multiprocess\)\n$/);
  // A request without Host (valid in HTTP/1.0) is served by a worker too.
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(url.port),
  });
  const { exchange } = await import("./_helpers.ts");
  assert.match(
    await exchange(conn, "GET / HTTP/1.0\r\n\r\n"),
    /^HTTP\/1\.0 200 [^]*\(multiprocess\)\n$/,
  );
  assert.equal((await cli.stop("SIGTERM")).code, 0);
});

Deno.test("cli: --certfile and --keyfile serve HTTPS", async () => {
  const { caCert, cert, key } = await import("./fixtures/tls.ts");
  const dir = await Deno.makeTempDir({ prefix: "denowsgi-" });
  try {
    await Deno.writeTextFile(`${dir}/cert.pem`, cert);
    await Deno.writeTextFile(`${dir}/key.pem`, key);
    await using cli = new Cli([
      "-b",
      "127.0.0.1:0",
      "--certfile",
      `${dir}/cert.pem`,
      "--keyfile",
      `${dir}/key.pem`,
      "--no-access-log",
      "tests/fixtures/apps.ts",
    ]);
    const url = await cli.listening("tests/fixtures/apps.ts");
    assert.equal(url.protocol, "https:");
    using client = Deno.createHttpClient({ caCerts: [caCert] });
    const response = await within(
      "a response",
      fetch(`https://localhost:${url.port}/tls`, { client }),
    );
    assert.equal(await response.text(), "default export at /tls\n");
    assert.equal((await cli.stop("SIGTERM")).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: with standard output never read, the server keeps serving and Ctrl+C stops it", async () => {
  await using cli = new Cli([
    "examples/holamundo.ts:holaMundoApp",
    "--port",
    "0",
  ]);
  const url = await cli.listening("examples/holamundo.ts:holaMundoApp");
  // From here stdout is not read: 1,000 log lines of 4 KB fill any pipe.
  const path = "/" + "a".repeat(4000);
  for (let i = 0; i < 1000; i++) {
    const response = await within("a response", fetch(new URL(path, url)));
    assert.equal(response.status, 200);
    await response.body?.cancel();
  }
  const { code, stderr } = await cli.stop();
  assert.equal(code, 0);
  assert.doesNotMatch(stderr, STACK_FRAME);
});
