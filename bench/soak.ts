/**
 * The soak: the gateway held under load and abuse for minutes, in its own
 * process, its resident memory read from /proc:
 *
 * 1. 60 s of `wrk -t1 -c256` on the lesson's page: errors, p99, RSS every 5 s.
 * 2. 10,000 clients that read the first bytes of an endless stream and
 *    hang up, then 90,000 more, in waves of 2,000: every `close()` counted,
 *    and after each wave the server's JavaScript heap and RSS once a full
 *    garbage collection has run. A leak grows wave after wave; the
 *    allocator's high-water mark rises once and stays. Raw `Deno.serve`
 *    runs the same waves, in a process of its own, for comparison.
 * 3. 500 slowloris connections (a header byte a second) held open while
 *    `wrk -c10` measures the page: p99 with and without them.
 * 4. 1 KiB POSTs whose body the app reads (`wrk -c20`, bench/wrk/post1k.lua)
 *    until 100,000 are answered: open descriptors, RSS and sockets in
 *    CLOSE-WAIT, sampled every second.
 *
 *     deno run -A bench/soak.ts [--seconds 60] [--leavers 10000] [--more 90000]
 *       [--slow 500] [--posts 100000]
 *
 * Prints a Markdown table (bench/README.md keeps the last one, under Soak).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { start, stop, wrk } from "./http.ts";

const flags = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    leavers: { type: "string", default: "10000" },
    more: { type: "string", default: "90000" },
    slow: { type: "string", default: "500" },
    posts: { type: "string", default: "100000" },
  },
}).values;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const encoder = new TextEncoder();

function fds(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

/** Sockets of the server on `port` waiting in CLOSE-WAIT, by `ss`. */
async function closeWait(port: number): Promise<number> {
  const { stdout } = await new Deno.Command("ss", {
    args: ["-Htn", "state", "close-wait", `( sport = :${port} )`],
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter(Boolean).length;
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

/** The soak server, the gateway's or raw Deno.serve's. */
async function soakServer(kind: "gateway" | "raw") {
  const server = await start(
    {
      name: `soak ${kind}`,
      command: Deno.execPath(),
      args: (port) => [
        "run",
        "--allow-net",
        "--allow-read",
        "--v8-flags=--expose-gc",
        "bench/servers/soak.ts",
        String(port),
        kind,
      ],
    },
    "soak",
    0,
  );
  if (typeof server === "string") throw new Error(server);
  return server;
}

/**
 * Clients that read the first bytes of `/stream` and hang up, 100 at a
 * time, in waves of 2,000: the memory after a full GC, at the start and
 * after each wave, as `heap/RSS` in MiB.
 */
async function leaving(port: number, total: number) {
  const memory = async () => {
    const usage = await (await fetch(`http://127.0.0.1:${port}/memory`))
      .json() as Deno.MemoryUsage;
    return `${mib(usage.heapUsed)}/${mib(usage.rss)}`;
  };
  const after = [await memory()];
  let failures = 0;
  let closes = 0;
  for (let done = 0; done < total;) {
    const wave = Math.min(2000, total - done);
    let next = 0;
    const leave = async () => {
      while (next++ < wave) {
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
    done += wave;
    for (let tries = 0; tries < 100 && closes < done; tries++) {
      await sleep(100);
      closes = Number(
        await (await fetch(`http://127.0.0.1:${port}/closes`)).text(),
      );
    }
    after.push(await memory());
  }
  return { after, failures, closes };
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

const server = await soakServer("gateway");
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

  // 2. Clients leaving mid-stream: the gateway, then raw Deno.serve.
  const leavers = Number(flags.leavers);
  const total = leavers + Number(flags.more);
  const waves = (after: string[]) => {
    // Waves of 2,000: the one that ends at `leavers`, when it is a multiple.
    return `${after[0]} → ${
      after[Math.ceil(leavers / 2000)]
    } after ${leavers}, ${after.at(-1)} after ${total} (every wave: ${
      after.join(" ")
    })`;
  };
  const gateway = await leaving(port, total);
  const rawServer = await soakServer("raw");
  const raw = await leaving(rawServer.port, total).finally(() =>
    stop(rawServer)
  );
  row(
    `${total} clients leave mid-stream`,
    `${gateway.closes} close() calls, ${gateway.failures} client errors`,
    `heap/RSS after a full GC (MiB): ${waves(gateway.after)}`,
  );
  row(
    `the same on raw Deno.serve`,
    `${raw.closes} cancel() calls, ${raw.failures} client errors`,
    `heap/RSS after a full GC (MiB): ${waves(raw.after)}`,
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

  // 4. 1 KiB POSTs read by the app, until `posts` are answered.
  const posts = Number(flags.posts);
  const seen = { fds: [fds(pid)], rss: [rssMiB(pid)], closeWait: 0 };
  let answered = 0;
  let problems: string[] = [];
  const post = wrk(20, "/post", [], "bench/wrk/post1k.lua");
  while (answered < posts) {
    let running = true;
    const sampling = (async () => {
      while (running) {
        await sleep(1000);
        seen.fds.push(fds(pid));
        seen.rss.push(rssMiB(pid));
        seen.closeWait = Math.max(seen.closeWait, await closeWait(port));
      }
    })();
    const sample = await post(port, 5);
    running = false;
    await sampling;
    answered += sample.work ?? 0;
    if (sample.problem) problems.push(sample.problem);
    if (!sample.work) break;
  }
  problems = [...new Set(problems)];
  const span = (values: number[], digits: number) =>
    `${values[0].toFixed(digits)} → max ${
      Math.max(...values).toFixed(digits)
    } → ${values.at(-1)!.toFixed(digits)}`;
  row(
    `${answered} POSTs of 1 KiB, body read`,
    `CLOSE-WAIT at most ${seen.closeWait}; errors: ${
      problems.join("; ") || "none"
    }`,
    `descriptors ${span(seen.fds, 0)}; RSS (MiB) ${span(seen.rss, 0)}`,
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
