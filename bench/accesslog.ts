/**
 * What the access log costs on the lesson's page: the command line serving
 * examples/holamundo.ts with `--no-access-log` and with `--access-log`, its
 * standard output a pipe this driver drains (as a terminal or journald
 * would), `wrk -t1` in rounds, medians and their ratio.
 *
 *     deno run -A bench/accesslog.ts [--rounds 11] [--duration 1]
 *       [--processes 3] [--no-pin] [--connections 50]
 *       [--sink pipe|cat|null] [--root /path/to/another/checkout]
 *
 * Each side runs in `--processes` servers, and every round measures each
 * server once, in a new random order: on this machine a process can be
 * fast or slow for its whole life, and one process a side would measure
 * that luck. With `taskset` and two CPUs or more, the servers share CPU 0
 * and this driver, wrk and the reader get the others (`--no-pin` leaves
 * the scheduler to place everyone): the server's cost then stops depending
 * on where wrk and the reader happen to run.
 *
 * `--sink cat` has `cat` read standard output through a FIFO instead: the
 * lightest reader, so that the figure is the server's own cost and not the
 * reader's. `--sink null` sends it to /dev/null. `--root` runs the same
 * comparison on another checkout (say, main before the log became
 * asynchronous).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuSeconds, wrk } from "./http.ts";

const flags = parseArgs({
  options: {
    rounds: { type: "string", default: "11" },
    duration: { type: "string", default: "1" },
    processes: { type: "string", default: "3" },
    "no-pin": { type: "boolean", default: false },
    connections: { type: "string", default: "50" },
    root: { type: "string", default: new URL("..", import.meta.url).pathname },
    sink: { type: "string", default: "pipe" },
  },
}).values;
const measure = wrk(Number(flags.connections));
const pinned = !flags["no-pin"] && navigator.hardwareConcurrency >= 2 &&
  await pin();

/**
 * Moves this driver (and so wrk and the reader, which it starts) off CPU 0,
 * which the servers get. False when taskset cannot.
 */
async function pin(): Promise<boolean> {
  const others = `1-${navigator.hardwareConcurrency - 1}`;
  try {
    const { success } = await new Deno.Command("taskset", {
      args: ["-a", "-p", "-c", others, String(Deno.pid)],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}
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
  // taskset and the shell exec what follows: the pid stays the server's.
  const launcher = pinned
    ? ["taskset", "-c", "0", Deno.execPath()]
    : [Deno.execPath()];
  const [command, ...rest] = reader.fifo
    ? ["sh", "-c", 'exec "$@" > "$FIFO"', "sh", ...launcher, ...args]
    : [...launcher, ...args];
  const child = new Deno.Command(command, {
    args: rest,
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
const mean = (values: number[]) =>
  values.reduce((sum, value) => sum + value, 0) / values.length;

const processes = Number(flags.processes);
// One after the other: a free port is only sure once its server holds it.
const servers: (Awaited<ReturnType<typeof start>> & {
  side: number;
  cpu: number[];
})[] = [];
for (const [side, flag] of SIDES.entries()) {
  for (let i = 0; i < processes; i++) {
    servers.push({ side, ...await start(flag), cpu: [] as number[] });
  }
}
const rps: number[][] = SIDES.map(() => []);
const p99: number[][] = SIDES.map(() => []);
const ratios: number[] = [];
try {
  for (const server of servers) await measure(server.port, 2); // warm-up
  for (let round = 0; round < Number(flags.rounds); round++) {
    const got: number[][] = SIDES.map(() => []);
    for (const server of servers.toSorted(() => Math.random() - 0.5)) {
      const before = cpuSeconds(server.pid);
      const sample = await measure(server.port, Number(flags.duration));
      const spent = cpuSeconds(server.pid) - before;
      server.cpu.push(spent / (sample.work ?? NaN) * 1e6);
      if (sample.problem) {
        console.error(`${SIDES[server.side]}: ${sample.problem}`);
      }
      rps[server.side].push(sample.value);
      p99[server.side].push(sample.p99Ms ?? NaN);
      got[server.side].push(sample.value);
    }
    ratios.push(mean(got[1]) / mean(got[0]));
  }
} finally {
  await Promise.all(servers.map((server) => server.stop()));
}
const cpu = SIDES.map((_, side) =>
  servers.filter((server) => server.side === side).map((server) => server.cpu)
);
const load = Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
console.log(
  `| access log | req/s (median) | p99 ms (median) | server CPU µs/request (median; per process) |`,
);
console.log(`|---|---|---|---|`);
SIDES.forEach((side, i) =>
  console.log(
    `| ${side} | ${median(rps[i]).toFixed(0)} | ${
      median(p99[i]).toFixed(2)
    } | ${median(cpu[i].flat()).toFixed(2)}; ${
      cpu[i].map((each) => median(each).toFixed(1)).join(" ")
    } |`,
  )
);
console.log(
  `\non/off ratio, median of ${ratios.length} rounds: ${
    median(ratios).toFixed(3)
  }; server CPU off/on: ${
    (median(cpu[0].flat()) / median(cpu[1].flat())).toFixed(3)
  } (rounds: ${
    ratios.map((r) => r.toFixed(3)).join(" ")
  }); ${processes} processes a side; ${
    pinned ? "servers on CPU 0, wrk and reader on the others" : "not pinned"
  }; load average ${load}; sink ${flags.sink}; root ${flags.root}`,
);
