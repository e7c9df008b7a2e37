/**
 * The deploy guide's "More than one machine", end to end: nginx in front of
 * two gateway processes (deploy/nginx-hosts.conf, the hosts on loopback),
 * requests sent all along while one host is stopped with SIGTERM and
 * started again, then the other: a rolling restart that loses no request.
 * Skips, saying so, when nginx is not installed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { installed, startNginx } from "./_helpers.ts";
import { ServerProcess } from "./_process.ts";

const available = await installed("nginx", "-v");
if (!available) console.log("rolling restart test skipped: no nginx");

/** One gateway host: `server.ts` on a loopback port, stopped and started. */
class Host {
  server?: ServerProcess;
  port = 0;

  /** Starts it, on `port` (0: any), and waits for its Serving line. */
  async start(port: number): Promise<void> {
    this.server = new ServerProcess([
      "-b",
      `127.0.0.1:${port}`,
      "--no-access-log",
      "tests/fixtures/health.ts",
    ]);
    this.port = Number(new URL(await this.server.url).port);
  }

  /** SIGTERM, as a rolling restart sends it; resolves with the exit code. */
  async stop(): Promise<number> {
    const { code } = await this.server!.stop();
    await this.server![Symbol.asyncDispose]();
    return code;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

Deno.test({
  name:
    "a rolling restart behind nginx (SIGTERM one host, start it, then the next) loses no request",
  ignore: !available,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "denowsgi-rolling-" });
    const hosts = [new Host(), new Host()];
    for (const host of hosts) await host.start(0);
    const port = freePort();
    const { child: nginx, stderr: nginxErrors } = await startNginx(
      "deploy/nginx-hosts.conf",
      dir,
      {
        HOST_A: String(hosts[0].port),
        HOST_B: String(hosts[1].port),
        LISTEN_PORT: String(port),
      },
    );
    const failures: string[] = [];
    const servedBy = new Set<string>();
    let sent = 0;
    let rolling = true;
    let load: Promise<void>[] = [];
    try {
      // nginx up, and the health route answers through it.
      for (let tries = 0; tries < 50; tries++) {
        const ok = await fetch(`http://127.0.0.1:${port}/healthz`)
          .then(async (response) => (await response.text()) === "ok\n")
          .catch(() => false);
        if (ok) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // Four clients, each a request after another, until the roll is over
      // (and never more than 100,000 requests).
      load = Array.from({ length: 4 }, async () => {
        while (rolling && sent < 100_000) {
          sent++;
          try {
            const response = await fetch(`http://127.0.0.1:${port}/`, {
              signal: AbortSignal.timeout(10_000),
            });
            const text = await response.text();
            if (response.status !== 200) {
              failures.push(`${response.status} ${text.slice(0, 80)}`);
            } else servedBy.add(text);
          } catch (error) {
            failures.push(`${error} (${(error as Error).cause})`);
          }
        }
      });
      for (const host of hosts) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(await host.stop(), 0);
        // The host is down a moment, as a deploy would have it.
        await new Promise((resolve) => setTimeout(resolve, 300));
        await host.start(host.port);
        // Until nginx's fail_timeout passes, the host gets no traffic.
        await new Promise((resolve) => setTimeout(resolve, 2500));
      }
    } finally {
      rolling = false;
      await Promise.all(load);
      // Fast shutdown: a graceful one waits out fetch's idle keep-alive.
      nginx.kill("SIGTERM");
      await nginx.status;
      await nginxErrors;
      for (const host of hosts) await host.stop();
      await Deno.remove(dir, { recursive: true });
    }
    assert.deepEqual(failures, [], `${failures.length} of ${sent} failed`);
    assert.ok(sent > 100, `only ${sent} requests were sent`);
    // Both hosts served, the restarted processes among them.
    assert.ok(servedBy.size >= 3, [...servedBy].join(", "));
  },
});
