/**
 * What `server.ts` survives, as an operator runs it: a stray rejection and
 * a throw in a timer, running out of file descriptors under a low
 * `ulimit -n`, an endless stream of tiny chunks (in flat memory), and an
 * application that never answers when SIGTERM comes (the grace period is
 * kept). Each case is a real process, watched from outside.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ServerProcess } from "./_process.ts";

const FIXTURE = "tests/fixtures/hostile.ts";

/** `server.ts` serving the hostile fixture on a free port. */
function hostile(flags: string[], shell?: string): ServerProcess {
  return new ServerProcess(
    ["-b", "127.0.0.1:0", "--no-access-log", ...flags, FIXTURE],
    { shell },
  );
}

async function text(url: string): Promise<[number, string]> {
  const response = await fetch(url);
  return [response.status, await response.text()];
}

Deno.test("server.ts survives a stray rejection and a throw in a timer, each logged once", async () => {
  await using server = hostile([]);
  const url = await server.url;
  assert.deepEqual(await text(`${url}reject`), [200, "/reject ok\n"]);
  assert.deepEqual(await text(`${url}throw-later`), [200, "/throw-later ok\n"]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(await text(`${url}ok`), [200, "/ok ok\n"]);
  const { code, stderr } = await server.stop();
  assert.equal(code, 0, stderr);
  assert.match(
    stderr,
    /\[wsgi\] a promise rejected with nobody to handle it, outside any request's answer; the server goes on\nError: a stray rejection\n/,
  );
  assert.match(
    stderr,
    /\[wsgi\] an error was thrown outside any request's answer \(in a timer or a callback\); the server goes on\nError: a throw in a timer\n/,
  );
});

Deno.test("server.ts out of file descriptors (ulimit -n 64) says so, listens again, and serves", async () => {
  await using server = hostile([], "ulimit -n 64");
  const url = await server.url;
  const { hostname, port } = new URL(url);
  const idle: Deno.Conn[] = [];
  try {
    // More idle connections than the process has descriptors for.
    for (let i = 0; i < 100; i++) {
      try {
        idle.push(await Deno.connect({ hostname, port: Number(port) }));
      } catch {
        break; // Refused: the listener is down for now, as it should be.
      }
    }
  } finally {
    for (const conn of idle) conn.close();
  }
  // Within a second or two the listener is back.
  let answer: [number, string] | undefined;
  for (let tries = 0; tries < 50 && answer === undefined; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    answer = await text(`${url}ok`).catch(() => undefined);
  }
  assert.deepEqual(answer, [200, "/ok ok\n"]);
  const { code, stderr } = await server.stop();
  assert.equal(code, 0, stderr);
  assert.match(
    stderr,
    /\[wsgi\] the listener on 127\.0\.0\.1:\d+ failed \(.*Too many open files.*\); listening again in 1 s\n/,
  );
});

Deno.test("server.ts sends a million one-byte chunks in bounded memory", async () => {
  await using server = hostile([]);
  const url = await server.url;
  const response = await fetch(`${url}chunks?n=1000000`);
  let received = 0;
  for await (const bytes of response.body!) received += bytes.byteLength;
  assert.equal(received, 1_000_000);
  // Before, each chunk held about 430 bytes until the stream ended: 475 MiB.
  const peak = await server.peakMiB();
  assert.ok(peak < 200, `peak RSS ${peak.toFixed(0)} MiB`);
  assert.equal((await server.stop()).code, 0);
});

Deno.test("server.ts keeps its grace period: an answer that never comes does not hold SIGTERM", async () => {
  await using server = hostile([
    "--app-timeout",
    "0.5",
    "--graceful-timeout",
    "1",
  ]);
  const url = await server.url;
  const never = fetch(`${url}never`);
  // The 503 past appTimeout goes out; the application's promise stays.
  assert.equal((await never).status, 503);
  await (await never).body?.cancel();
  const { code, stderr } = await server.stop();
  assert.equal(code, 0, stderr);
  assert.match(
    stderr,
    /Graceful timeout \(1 s\): left 1 application that never answered\n/,
  );
});
