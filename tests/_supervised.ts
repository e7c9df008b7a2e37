/**
 * A `server.ts` under the supervisor as the tests run it (tests/supervisor_test.ts,
 * tests/reload_test.ts): its output read as it comes, the workers it
 * started, and what tells a process alive or a port free. Every wait is
 * bounded.
 *
 * @module
 */

import assert from "node:assert/strict";
import { lines, within } from "./_process.ts";

export const ROOT = new URL("..", import.meta.url);
export const SERVER = [
  "run",
  "--allow-net",
  "--allow-read",
  "--allow-run=deno",
];

export const sleep = (ms: number) =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** A running `server.ts` under the supervisor, its stdout and stderr read as they come. */
export class Supervised implements AsyncDisposable {
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
    // Its workers follow it; make sure, whatever the test did, before
    // waiting for the output they share with it to end.
    for (const pid of this.started()) {
      if (await alive(pid)) await killHard(pid);
    }
    await within("the output's end", this.#done);
  }
}

/** A GET on a fresh connection, so the kernel may give it to any worker; the answering pid. */
export async function pidOf(url: URL | string): Promise<number> {
  using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const response = await within("an answer", fetch(url, { client }));
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const match = /done by pid (\d+)/.exec(text);
  assert.ok(match, text);
  return Number(match[1]);
}

/** SIGKILL to a worker (Deno.kill needs every run permission; bash is allowed). */
export async function killHard(pid: number): Promise<void> {
  await new Deno.Command("bash", { args: ["-c", `kill -9 ${pid}`] }).output();
}

/** Whether `pid` is a live process (a zombie is not), asked of ps. */
export async function alive(pid: number): Promise<boolean> {
  const { stdout } = await new Deno.Command("bash", {
    args: ["-c", `ps -o stat= -p ${pid} || true`],
  }).output();
  const state = new TextDecoder().decode(stdout).trim();
  return state !== "" && !state.startsWith("Z");
}

/** Whether nothing listens on 127.0.0.1:`port`: listening there ourselves works. */
export function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return false;
    throw error;
  }
}

/** Polls `check` every 100 ms until it holds; fails after WAIT_MS. */
export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
) {
  await within(
    what,
    (async () => {
      while (!await check()) await sleep(100);
    })(),
  );
}
