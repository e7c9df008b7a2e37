/**
 * What the access log costs on the lesson's page: the command line serving
 * examples/holamundo.ts with `--no-access-log` and with `--access-log`, its
 * standard output a pipe this driver drains (as a terminal or journald
 * would), `wrk -t1` in interleaved rounds, medians and their ratio.
 *
 *     deno run -A bench/accesslog.ts [--rounds 5] [--duration 5]
 *       [--connections 50] [--sink pipe|null] [--root /path/to/another/checkout]
 *
 * `--sink null` sends standard output to /dev/null instead: the server's
 * own cost, without a reader sharing the cores. `--root` runs the same comparison on another checkout (say, main before
 * the log became asynchronous).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuSeconds, wrk } from "./http.ts";

const flags = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "50" },
    root: { type: "string", default: new URL("..", import.meta.url).pathname },
    sink: { type: "string", default: "pipe" },
  },
}).values;
const measure = wrk(Number(flags.connections));
const SIDES = ["--no-access-log", "--access-log"] as const;

/** The CLI on a free port, its stdout drained line by line. */
async function start(
  flag: string,
): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "server.ts",
      "examples/holamundo.ts:holaMundoApp",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      flag,
    ],
    cwd: flags.root,
    stdout: flags.sink === "null" ? "null" : "piped",
    stderr: "inherit",
  }).spawn();
  const drained = flags.sink === "null"
    ? Promise.resolve()
    : child.stdout.pipeTo(new WritableStream());
  for (let tries = 0;; tries++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (error) {
      if (tries > 400) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    port,
    pid: child.pid,
    async stop() {
      child.kill("SIGINT");
      await child.status;
      await drained;
    },
  };
}

const median = (values: number[]) =>
  values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];

const servers = await Promise.all(SIDES.map(start));
const rps: number[][] = SIDES.map(() => []);
const p99: number[][] = SIDES.map(() => []);
const cpu: number[][] = SIDES.map(() => []);
const ratios: number[] = [];
try {
  for (const server of servers) await measure(server.port, 2); // warm-up
  for (let round = 0; round < Number(flags.rounds); round++) {
    // Interleaved, the order swapped every round.
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    const got: number[] = [];
    for (const side of order) {
      const before = cpuSeconds(servers[side].pid);
      const sample = await measure(servers[side].port, Number(flags.duration));
      const spent = cpuSeconds(servers[side].pid) - before;
      cpu[side].push(spent / (sample.work ?? NaN) * 1e6);
      if (sample.problem) console.error(`${SIDES[side]}: ${sample.problem}`);
      rps[side].push(sample.value);
      p99[side].push(sample.p99Ms ?? NaN);
      got[side] = sample.value;
    }
    ratios.push(got[1] / got[0]);
  }
} finally {
  await Promise.all(servers.map((server) => server.stop()));
}
const load = Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
console.log(
  `| access log | req/s (median) | p99 ms (median) | server CPU µs/request |`,
);
console.log(`|---|---|---|---|`);
SIDES.forEach((side, i) =>
  console.log(
    `| ${side} | ${median(rps[i]).toFixed(0)} | ${
      median(p99[i]).toFixed(2)
    } | ${median(cpu[i]).toFixed(1)} |`,
  )
);
console.log(
  `\non/off ratio, median of ${ratios.length} rounds: ${
    median(ratios).toFixed(3)
  } ` +
    `(rounds: ${
      ratios.map((r) => r.toFixed(3)).join(" ")
    }); load average ${load}; sink ${flags.sink}; root ${flags.root}`,
);
