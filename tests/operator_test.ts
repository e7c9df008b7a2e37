/**
 * gunicorn's everyday flags on `server.ts`, each run as an operator runs
 * it: `--version`, `-b HOST`, `--access-logfile` and `--error-logfile`
 * reopened on SIGUSR1, `--log-level`, `--chdir`, `--pid`, `--umask`,
 * `--forwarded-allow-ips`, and `-c FILE`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ServerProcess } from "./_process.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function get(url: string, headers?: HeadersInit): Promise<string> {
  const response = await fetch(url, { headers });
  return await response.text();
}

/** A temporary folder, removed when disposed. */
async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "denowsgi-ops-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

async function run(args: string[]): Promise<string> {
  const { stdout } = await new Deno.Command("deno", {
    args: ["run", "--allow-read", "--allow-net", "server.ts", ...args],
    cwd: ROOT,
  }).output();
  return new TextDecoder().decode(stdout);
}

Deno.test("--version says the package's version and Deno's", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  assert.equal(
    await run(["--version"]),
    `denowsgi ${config.version} (Deno ${Deno.version.deno})\n`,
  );
});

Deno.test("--access-logfile and --error-logfile: the lines go to the files, which SIGUSR1 opens again after a rotation", async () => {
  await using dir = await tempDir();
  const access = `${dir.path}/access.log`;
  const errors = `${dir.path}/error.log`;
  await using server = new ServerProcess([
    "-b",
    "127.0.0.1:0",
    "--access-logfile",
    access,
    "--error-logfile",
    errors,
    "tests/fixtures/apps.ts:failing",
  ], {
    permissions: ["--allow-net", "--allow-read", `--allow-write=${dir.path}`],
  });
  const url = await server.url;
  await get(`${url}uno`);
  // The access log's lines go out in batches of 10 ms.
  await new Promise((resolve) => setTimeout(resolve, 200));
  // logrotate moves the files, then signals.
  await Deno.rename(access, `${access}.1`);
  await Deno.rename(errors, `${errors}.1`);
  server.child.kill("SIGUSR1");
  await new Promise((resolve) => setTimeout(resolve, 300));
  await get(`${url}dos`);
  const { code } = await server.stop();
  assert.equal(code, 0);
  const rotated = await Deno.readTextFile(`${access}.1`);
  const fresh = await Deno.readTextFile(access);
  assert.match(rotated, /"GET \/uno HTTP\/1\.1" 500 /);
  assert.match(fresh, /"GET \/dos HTTP\/1\.1" 500 /);
  assert.doesNotMatch(fresh, /\/uno/);
  // wsgi.errors (the app's failure) and the server's own lines.
  assert.match(
    await Deno.readTextFile(`${errors}.1`),
    /\[wsgi\] GET \/uno: the application raised an error/,
  );
  assert.match(
    await Deno.readTextFile(errors),
    /log files opened again \(SIGUSR1\)[^]*\[wsgi\] GET \/dos: the application raised an error/,
  );
});

Deno.test("--log-level warning keeps what went wrong and drops what only says what happens", async () => {
  for (const [level, stopping] of [["info", true], ["warning", false]]) {
    await using server = new ServerProcess([
      "-b",
      "127.0.0.1:0",
      "--no-access-log",
      "--log-level",
      String(level),
      "tests/fixtures/slow.ts",
    ]);
    const url = await server.url;
    const slow = fetch(url).then((response) => response.text());
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { code, stderr } = await server.stop();
    await slow;
    assert.equal(code, 0);
    assert.equal(/Stopping: waiting for 1 request/.test(stderr), stopping);
  }
});

Deno.test("--chdir, --pid and --umask: the app loads from the folder, the pid file lives as long as the server", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    `${dir.path}/app.ts`,
    `export default (_e: unknown, start: (s: string, h: [string, string][]) => void) => {
  Deno.writeTextFileSync("made.txt", "x");
  start("200 OK", [["Content-Type", "text/plain"]]);
  return [Deno.cwd()];
};\n`,
  );
  const pid = `${dir.path}/server.pid`;
  await using server = new ServerProcess([
    "-b",
    "127.0.0.1:0",
    "--chdir",
    dir.path,
    "--pid",
    pid,
    "--umask",
    "077",
    "app.ts",
  ], {
    permissions: [
      "--allow-net",
      "--allow-read",
      `--allow-write=${dir.path}`,
      "--allow-sys",
    ],
  });
  const url = await server.url;
  assert.equal(await get(url), await Deno.realPath(dir.path));
  assert.equal(
    (await Deno.readTextFile(pid)).trim(),
    String(server.child.pid),
  );
  // The umask shapes what the app creates: no bits for group or others.
  assert.equal((await Deno.stat(`${dir.path}/made.txt`)).mode! & 0o077, 0);
  assert.equal((await server.stop()).code, 0);
  await assert.rejects(Deno.stat(pid), Deno.errors.NotFound);
});

Deno.test("--forwarded-allow-ips: proxy headers are trusted only from those peers (127.0.0.1 and ::1 by default)", async () => {
  const client = { "X-Forwarded-For": "203.0.113.7" };
  const demo = async (flags: string[]) => {
    await using server = new ServerProcess([
      "-b",
      "127.0.0.1:0",
      "--no-access-log",
      "--proxy-hops",
      "1",
      ...flags,
    ]);
    const page = await get(await server.url, client);
    return /REMOTE_ADDR = "([^"]+)"/.exec(page)![1];
  };
  assert.equal(await demo([]), "203.0.113.7");
  assert.equal(await demo(["--forwarded-allow-ips", "10.0.0.1"]), "127.0.0.1");
  assert.equal(await demo(["--forwarded-allow-ips", "*"]), "203.0.113.7");
});

Deno.test("-c FILE: settings from JSON or a TypeScript module, the command line's flags winning", async () => {
  await using dir = await tempDir();
  const log = `${dir.path}/access.log`;
  await Deno.writeTextFile(
    `${dir.path}/server.config.ts`,
    `export default {
  bind: ["127.0.0.1:1"],
  accessLogfile: ${JSON.stringify(log)},
  limitRequestTarget: 20,
};\n`,
  );
  await using server = new ServerProcess([
    "-c",
    `${dir.path}/server.config.ts`,
    "-b",
    "127.0.0.1:0",
  ], {
    permissions: ["--allow-net", "--allow-read", `--allow-write=${dir.path}`],
  });
  const url = await server.url;
  // -b on the command line replaced the file's; the limit is the file's.
  assert.notEqual(new URL(url).port, "1");
  const long = await fetch(`${url}${"x".repeat(30)}`);
  assert.equal(long.status, 414);
  await long.body?.cancel();
  assert.equal((await server.stop()).code, 0);
  assert.match(await Deno.readTextFile(log), /" 414 /);
  // JSON, with a switch turned off.
  const json = `${dir.path}/server.json`;
  await Deno.writeTextFile(
    json,
    JSON.stringify({ bind: "127.0.0.1:0", accessLog: false }),
  );
  await using quiet = new ServerProcess(["-c", json]);
  await get(await quiet.url);
  const { stderr } = await quiet.stop();
  assert.doesNotMatch(stderr, /GET \//);
});

Deno.test("--access-logfile under -w 2: each worker writes the file the supervisor was allowed to", async () => {
  await using dir = await tempDir();
  const access = `${dir.path}/access.log`;
  await using server = new ServerProcess([
    "-b",
    "127.0.0.1:0",
    "-w",
    "2",
    "--access-logfile",
    access,
  ], {
    permissions: [
      "--allow-net",
      "--allow-read",
      "--allow-run=deno",
      `--allow-write=${access}`,
    ],
  });
  const url = await server.url;
  for (let i = 0; i < 4; i++) await get(`${url}${i}`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal((await server.stop()).code, 0);
  const lines = (await Deno.readTextFile(access)).split("\n").filter(Boolean);
  assert.equal(lines.length, 4, lines.join("\n"));
});
