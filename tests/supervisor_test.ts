/**
 * The supervisor as a user runs it: real `server.ts -w N` processes, their
 * workers killed with SIGKILL, the supervisor itself killed with SIGKILL,
 * a worker spinning past `--timeout`, SIGTERM, a port in use. Every wait is
 * bounded; nothing is timed; every process started is killed and awaited.
 *
 * @module
 */

import assert from "node:assert/strict";
import { lines, within } from "./_process.ts";

const ROOT = new URL("..", import.meta.url);
const STACK_FRAME = /^\s+at \S/m;
const SERVER = ["run", "--allow-net", "--allow-read", "--allow-run=deno"];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A running `server.ts` under the supervisor, its stdout and stderr read as they come. */
class Supervised implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly #done: Promise<void>;
  #wake = Promise.withResolvers<void>();

  constructor(args: string[]) {
    this.child = new Deno.Command("deno", {
      args: [...SERVER, "server.ts", ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const read = async (stream: ReadableStream<Uint8Array>, into: string[]) => {
      for await (const line of lines(stream)) {
        into.push(line);
        this.#wake.resolve();
        this.#wake = Promise.withResolvers();
      }
    };
    this.#done = Promise.all([
      read(this.child.stdout, this.stdout),
      read(this.child.stderr, this.stderr),
    ]).then(() => this.#wake.resolve());
  }

  /** The first line of `stream` from `from` on matching `pattern`; fails once output ends without it. */
  async wait(
    stream: "stdout" | "stderr",
    pattern: RegExp,
    from = 0,
  ): Promise<RegExpExecArray> {
    return await within(
      `${pattern} on ${stream}`,
      (async () => {
        for (let ended = false;;) {
          const lines = this[stream];
          for (let i = from; i < lines.length; i++) {
            const match = pattern.exec(lines[i]);
            if (match) return match;
          }
          assert.ok(!ended, `no ${pattern} in:\n${lines.join("\n")}`);
          const wake = this.#wake.promise;
          ended = await Promise.race([wake.then(() => false), this.#ended()]);
        }
      })(),
    );
  }

  async #ended(): Promise<boolean> {
    await this.#done;
    return true;
  }

  /** Reads the Serving line; returns the URL. */
  async serving(): Promise<URL> {
    const [, url] = await this.wait(
      "stdout",
      /^Serving .+ on (http:\/\/\S+\/) with \d+ workers? \(Ctrl\+C to stop\)$/,
    );
    return new URL(url);
  }

  /** The pids of the workers started so far, in order. */
  started(): number[] {
    return this.stderr.flatMap((line) => {
      const match = /^\[wsgi\] worker \d+ \(pid (\d+)\) started$/.exec(line);
      return match ? [Number(match[1])] : [];
    });
  }

  async finish(): Promise<number> {
    const { code } = await within("the exit", this.child.status);
    await within("the output's end", this.#done);
    return code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.child.status;
    await this.#done;
    // Its workers follow it; make sure, whatever the test did.
    for (const pid of this.started()) {
      if (await alive(pid)) await killHard(pid);
    }
  }
}

/** A GET on a fresh connection, so the kernel may give it to any worker; the answering pid. */
async function pidOf(url: URL | string): Promise<number> {
  using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const response = await within("an answer", fetch(url, { client }));
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const match = /done by pid (\d+)/.exec(text);
  assert.ok(match, text);
  return Number(match[1]);
}

/** SIGKILL to a worker (Deno.kill needs every run permission; bash is allowed). */
async function killHard(pid: number): Promise<void> {
  await new Deno.Command("bash", { args: ["-c", `kill -9 ${pid}`] }).output();
}

/** Whether `pid` is a live process (a zombie is not), asked of ps. */
async function alive(pid: number): Promise<boolean> {
  const { stdout } = await new Deno.Command("bash", {
    args: ["-c", `ps -o stat= -p ${pid} || true`],
  }).output();
  const state = new TextDecoder().decode(stdout).trim();
  return state !== "" && !state.startsWith("Z");
}

/** Whether nothing listens on 127.0.0.1:`port`: listening there ourselves works. */
function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return false;
    throw error;
  }
}

/** Polls `check` every 100 ms until it holds; fails after WAIT_MS. */
async function until(what: string, check: () => Promise<boolean> | boolean) {
  await within(
    what,
    (async () => {
      while (!await check()) await sleep(100);
    })(),
  );
}

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
