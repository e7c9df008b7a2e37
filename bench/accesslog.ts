/**
 * What the access log costs on the lesson's page: the command line serving
 * examples/holamundo.ts with `--no-access-log` and with `--access-log`, its
 * standard output a pipe this driver drains (as a terminal or journald
 * would), `wrk -t1` in interleaved rounds, medians and their ratio.
 *
 *     deno run -A bench/accesslog.ts [--rounds 5] [--duration 5]
 *       [--connections 50] [--sink pipe|cat|null]
 *       [--root /path/to/another/checkout]
 *
 * `--sink cat` has `cat` read standard output through a FIFO instead: the
 * lightest reader, so that the figure is the server's own cost and not the
 * reader's, which on two cores shares them with wrk and the server. `--sink
 * null` sends it to /dev/null. `--root` runs the same comparison on another
 * checkout (say, main before the log became asynchronous).
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

/** The CLI on a free port, its standard output going to `flags.sink`. */
async function start(
  flag: string,
): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const args = [
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
  ];
  const reader = await sink(flags.sink);
  // The shell only opens the reader's FIFO: exec leaves the server's pid.
  const child = new Deno.Command(reader.fifo ? "sh" : Deno.execPath(), {
    args: reader.fifo
      ? ["-c", 'exec "$@" > "$FIFO"', "sh", Deno.execPath(), ...args]
      : args,
    env: reader.fifo ? { FIFO: reader.fifo } : {},
    cwd: flags.root,
    stdout: flags.sink === "pipe" ? "piped" : "null",
    stderr: "inherit",
  }).spawn();
  const drained = flags.sink === "pipe"
    ? child.stdout.pipeTo(new WritableStream())
    : reader.done;
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

/**
 * Who reads standard output: this driver (`pipe`), `cat` through a FIFO
 * (`cat`, the lightest reader there is), or nobody (`null`, /dev/null).
 */
async function sink(
  kind: string,
): Promise<{ fifo?: string; done: Promise<void> }> {
  if (kind !== "cat") return { done: Promise.resolve() };
  const fifo = await Deno.makeTempDir() + "/stdout";
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const cat = new Deno.Command("cat", { args: [fifo], stdout: "null" }).spawn();
  return {
    fifo,
    done: cat.status.then(() => Deno.remove(fifo)),
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
