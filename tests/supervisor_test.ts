/**
 * The supervisor as a user runs it: real `server.ts -w N` processes, their
 * workers killed with SIGKILL, the supervisor itself killed with SIGKILL,
 * a worker spinning past `--timeout`, SIGTERM, a port in use. Every wait is
 * bounded; nothing is timed; every process started is killed and awaited.
 *
 * @module
 */

import assert from "node:assert/strict";
import { within } from "./_process.ts";
import {
  alive,
  killHard,
  pidOf,
  portFree,
  ROOT,
  SERVER,
  sleep,
  Supervised,
  until,
} from "./_supervised.ts";

const STACK_FRAME = /^\s+at \S/m;

const CPU = ["-b", "127.0.0.1:0", "--no-access-log", "tests/fixtures/cpu.ts"];

Deno.test("supervisor: -w 2 starts two worker processes that share the port and set wsgi.multiprocess", async () => {
  await using server = new Supervised(["-w", "2", ...CPU]);
  const url = await server.serving();
  const workers = server.started();
  assert.equal(workers.length, 2);
  assert.ok(!workers.includes(server.child.pid));
  using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const text = await (await within("an answer", fetch(url, { client })))
    .text();
  assert.match(text, /\(multiprocess\)\n$/);
  // Fresh connections spread over both (each lands on one at random).
  const seen = new Set<number>();
  for (let i = 0; i < 60 && seen.size < 2; i++) seen.add(await pidOf(url));
  assert.deepEqual([...seen].sort(), [...workers].sort());
  server.child.kill("SIGTERM");
  assert.equal(await server.finish(), 0);
});

Deno.test("supervisor: --timeout alone runs one supervised worker; wsgi.multiprocess stays false", async () => {
  await using server = new Supervised(["--timeout", "30", ...CPU]);
  const url = await server.serving();
  assert.match(server.stdout[0], / with 1 worker \(/);
  const [worker] = server.started();
  assert.equal(await pidOf(url), worker);
  using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const text = await (await fetch(url, { client })).text();
  assert.doesNotMatch(text, /multiprocess/);
  server.child.kill("SIGTERM");
  assert.equal(await server.finish(), 0);
});

Deno.test("supervisor: a worker killed with SIGKILL is logged and replaced; the other serves meanwhile", async () => {
  await using server = new Supervised(["-w", "2", ...CPU]);
  const url = await server.serving();
  const [victim, other] = server.started();
  await killHard(victim);
  const exited = new RegExp(
    `^\\[wsgi\\] worker 1 \\(pid ${victim}\\) exited with code 137 \\(signal SIGKILL\\); starting a new one in 0\\.1 s$`,
  );
  await server.wait("stderr", exited);
  // Until the new one listens, every connection goes to the other.
  const answered = new Set<number>();
  for (let i = 0; i < 5; i++) answered.add(await pidOf(url));
  await server.wait("stderr", /^\[wsgi\] worker 1 \(pid \d+\) started$/, 3);
  const replacement = server.started()[2];
  assert.ok(![victim, other].includes(replacement));
  // Requests keep succeeding, and the new worker takes its share once it
  // has loaded the app and listens ("started" is said as it is spawned).
  await until("the new worker to answer", async () => {
    answered.add(await pidOf(url));
    return answered.has(replacement);
  });
  assert.ok(!answered.has(victim));
  server.child.kill("SIGTERM");
  assert.equal(await server.finish(), 0);
});

Deno.test("supervisor: killed with SIGKILL, it takes its workers along: the port is free again", async () => {
  await using server = new Supervised(["-w", "2", ...CPU]);
  const url = await server.serving();
  const workers = server.started();
  assert.equal(await pidOf(url) > 0, true);
  server.child.kill("SIGKILL");
  await server.finish();
  await until("the port to be free", () => portFree(Number(url.port)));
  for (const pid of workers) {
    await until(`worker ${pid} to be gone`, async () => !await alive(pid));
  }
});

Deno.test("supervisor: a worker spinning past --timeout is killed and replaced", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denowsgi-" });
  try {
    await using server = new Supervised(["-w", "2", "--timeout", "1", ...CPU]);
    const url = await server.serving();
    const workers = server.started();
    // A gate never opened: the worker spins until it is killed.
    using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    const spinning = fetch(`${url}gate?file=${dir}/never`, { client });
    const [, pid] = await server.wait(
      "stderr",
      /^\[wsgi\] worker timeout \(pid (\d+)\): no heartbeat for 1 s; killing it$/,
    );
    assert.ok(workers.includes(Number(pid)));
    await assert.rejects(within("the spinning request", spinning));
    await server.wait(
      "stderr",
      new RegExp(
        `^\\[wsgi\\] worker \\d \\(pid ${pid}\\) exited with code 137 \\(signal SIGKILL\\); starting a new one`,
      ),
    );
    await server.wait("stderr", /^\[wsgi\] worker \d \(pid \d+\) started$/, 3);
    assert.equal(server.started().length, 3);
    for (let i = 0; i < 5; i++) assert.ok(await pidOf(url) > 0);
    server.child.kill("SIGTERM");
    assert.equal(await server.finish(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("supervisor: SIGTERM reaches every worker, the grace period is kept, exit 0 and no worker left", async () => {
  await using server = new Supervised([
    "-w",
    "2",
    "-b",
    "127.0.0.1:0",
    "--no-access-log",
    "--graceful-timeout",
    "1",
    "tests/fixtures/endless.ts",
  ]);
  const url = await server.serving();
  const workers = server.started();
  const response = await within("a response", fetch(url));
  const reader = response.body!.getReader();
  assert.ok((await within("a tick", reader.read())).value);
  server.child.kill("SIGTERM");
  // Still streaming after SIGTERM, until the grace period is over.
  assert.ok((await within("a tick after SIGTERM", reader.read())).value);
  await assert.rejects(async () => {
    while (!(await within("the end", reader.read())).done);
  });
  assert.equal(await server.finish(), 0);
  assert.deepEqual(server.stdout.slice(1), ["closed", "Stopped."]);
  const stderr = server.stderr.join("\n");
  assert.match(stderr, /Graceful timeout \(1 s\): ended 1 response still/);
  assert.doesNotMatch(stderr, /past the grace period/);
  for (const pid of workers) {
    assert.match(
      stderr,
      new RegExp(`\\(pid ${pid}\\) exited with code 0$`, "m"),
    );
    assert.equal(await alive(pid), false);
  }
});

Deno.test("supervisor: -w 1 --max-requests 5 replaces the worker gracefully: every request answered, by 3 pids or more", async () => {
  await using server = new Supervised([
    "-w",
    "1",
    "--max-requests",
    "5",
    ...CPU,
  ]);
  const url = await server.serving();
  // Twenty requests one after the other on fresh connections, each
  // counted only while its worker is within its 5; the others are sent
  // while its replacement starts (50 ms apart, so that requests cross the
  // hand-over itself). Every one must be answered (pidOf asserts a 200).
  const answered = new Map<number, number>();
  for (let counted = 0, sent = 0; counted < 20; sent++) {
    assert.ok(sent < 1000, "the replacements never finished");
    const pid = await pidOf(url);
    const times = (answered.get(pid) ?? 0) + 1;
    answered.set(pid, times);
    if (times <= 5) counted++;
    else await sleep(50);
  }
  assert.ok(answered.size >= 3, `answered by ${[...answered.keys()]}`);
  const stderr = server.stderr.join("\n");
  assert.match(
    stderr,
    /^\[wsgi\] worker 1 \(pid \d+\) served 5 requests: replacing it$/m,
  );
  assert.doesNotMatch(stderr, /starting a new one/);
  server.child.kill("SIGTERM");
  assert.equal(await server.finish(), 0);
});

Deno.test("supervisor: a module that does not load under -w 2, --timeout or --max-requests is one line, exit 2", async () => {
  for (
    const flags of [["-w", "2"], ["--timeout", "5"], ["--max-requests", "9"]]
  ) {
    const { code, stderr } = await new Deno.Command("deno", {
      args: [
        ...SERVER,
        "server.ts",
        ...flags,
        "-b",
        "127.0.0.1:0",
        "nope/h.ts",
      ],
      cwd: ROOT,
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 2, text);
    assert.doesNotMatch(text, STACK_FRAME);
    assert.equal(
      text.split("\n").filter((line) => line.startsWith("server.ts: error: "))
        .length,
      1,
      text,
    );
    assert.match(text, /^server\.ts: error: cannot import nope\/h\.ts: /m);
  }
});

Deno.test("supervisor: a port in use under -w 2 is one line, exit 2", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: [
      ...SERVER,
      "server.ts",
      "-w",
      "2",
      "-b",
      `127.0.0.1:${port}`,
      "tests/fixtures/cpu.ts",
    ],
    cwd: ROOT,
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(stderr);
  assert.equal(code, 2);
  assert.equal(new TextDecoder().decode(stdout), "");
  assert.doesNotMatch(text, STACK_FRAME);
  assert.match(
    text,
    new RegExp(
      `^server\\.ts: error: cannot listen on 127\\.0\\.0\\.1:${port}: .*in use.*\\n$`,
    ),
  );
});
