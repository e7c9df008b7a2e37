/**
 * The soak: the gateway held under load and abuse for minutes, in its own
 * process, its resident memory read from /proc:
 *
 * 1. 60 s of `wrk -t1 -c256` on the lesson's page: errors, p99, RSS every 5 s.
 * 2. 10,000 clients that read the first bytes of an endless stream and
 *    hang up: every `close()` counted, RSS before and after.
 * 3. 500 slowloris connections (a header byte a second) held open while
 *    `wrk -c10` measures the page: p99 with and without them.
 *
 *     deno run -A bench/soak.ts [--seconds 60] [--leavers 10000] [--slow 500]
 *
 * Prints a Markdown table (bench/soak.md keeps the last one).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { start, stop, wrk } from "./http.ts";

const flags = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    leavers: { type: "string", default: "10000" },
    slow: { type: "string", default: "500" },
  },
}).values;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const encoder = new TextEncoder();

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

const server = await start(
  {
    name: "soak",
    command: Deno.execPath(),
    args: (
      port,
    ) => [
      "run",
      "--allow-net",
      "--allow-read",
      "bench/servers/soak.ts",
      String(port),
    ],
  },
  "soak",
  0,
);
if (typeof server === "string") throw new Error(server);
const { port } = server;
const pid = server.child.pid;
const rows: string[][] = [];
const row = (...cells: string[]) => rows.push(cells);

try {
  // 1. Load.
  const seconds = Number(flags.seconds);
  const samples: string[] = [];
  const sampling = (async () => {
    for (let t = 0; t <= seconds; t += 5) {
      samples.push(rssMiB(pid).toFixed(0));
      await sleep(5000);
    }
  })();
  const loaded = await wrk(256)(port, seconds);
  await sampling;
  row(
    `${seconds} s, wrk -t1 -c256, lesson page`,
    `${loaded.value.toFixed(0)} req/s, p99 ${
      loaded.p99Ms!.toFixed(1)
    } ms, errors: ${loaded.problem ?? "none"}`,
    `RSS every 5 s (MiB): ${samples.join(" ")}`,
  );

  // 2. Clients leaving mid-stream, 100 at a time.
  const leavers = Number(flags.leavers);
  const rssBefore = rssMiB(pid);
  let next = 0;
  let failures = 0;
  const leave = async () => {
    while (next++ < leavers) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(
          encoder.encode("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n"),
        );
        await conn.read(new Uint8Array(4096));
        conn.close();
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: 100 }, leave));
  let closes = 0;
  for (let tries = 0; tries < 100 && closes < leavers; tries++) {
    await sleep(100);
    closes = Number(
      await (await fetch(`http://127.0.0.1:${port}/closes`)).text(),
    );
  }
  await sleep(2000);
  row(
    `${leavers} clients leave mid-stream`,
    `${closes} close() calls, ${failures} client errors`,
    `RSS ${rssBefore.toFixed(0)} → ${rssMiB(pid).toFixed(0)} MiB`,
  );

  // 3. Slowloris.
  const calm = await wrk(10)(port, 10);
  const slow: Deno.Conn[] = [];
  for (let i = 0; i < Number(flags.slow); i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n"));
    slow.push(conn);
  }
  let dripping = true;
  const drip = (async () => {
    while (dripping) {
      for (const conn of slow) {
        await conn.write(encoder.encode("X")).catch(() => {});
      }
      await sleep(1000);
    }
  })();
  const besieged = await wrk(10)(port, 10);
  dripping = false;
  await drip;
  for (const conn of slow) conn.close();
  row(
    `${slow.length} slowloris connections held`,
    `wrk -c10: p99 ${calm.p99Ms!.toFixed(2)} ms without, ${
      besieged.p99Ms!.toFixed(2)
    } ms with`,
    `${calm.value.toFixed(0)} → ${besieged.value.toFixed(0)} req/s; errors: ${
      besieged.problem ?? "none"
    }`,
  );
} finally {
  await stop(server);
}
const load = Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
console.log("| phase | outcome | memory / throughput |\n|---|---|---|");
for (const cells of rows) console.log(`| ${cells.join(" | ")} |`);
console.log(
  `\nDeno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, load average at the end ${load}.`,
);
