/**
 * `--workers` on this machine: a CPU-bound app (about 1 ms of work per
 * request) under `server.ts -w 1` and `-w 2`, driven by `wrk`, and the
 * stall test: while one request spins 3 s, how long an unrelated request
 * takes. Rounds interleave 1 and 2 workers; medians; ratios in one run.
 *
 *     deno run -A bench/workers.ts [--rounds 3] [--duration 5] [--connections 8]
 *
 * @module
 */
import { parseArgs } from "node:util";

const ROOT = new URL("..", import.meta.url).pathname;
const args = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "8" },
  },
});
const rounds = Number(args.values.rounds);
const duration = Number(args.values.duration);
const connections = Number(args.values.connections);

async function withServer<T>(
  workers: number,
  body: (url: string) => Promise<T>,
): Promise<T> {
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-run",
      "server.ts",
      "-b",
      "127.0.0.1:0",
      "-w",
      String(workers),
      "--no-access-log",
      "--graceful-timeout",
      "0",
      "tests/fixtures/cpu.ts",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/http:\/\/\S+\//.test(text)) {
    const { done, value } = await reader.read();
    if (done) throw new Error("the server ended before listening");
    text += value;
  }
  try {
    return await body(/http:\/\/\S+\//.exec(text)![0]);
  } finally {
    child.kill("SIGTERM");
    await reader.cancel();
    await child.status;
  }
}

async function wrk(url: string): Promise<number> {
  const { stdout } = await new Deno.Command("wrk", {
    args: ["-t2", `-c${connections}`, `-d${duration}s`, url],
  }).output();
  const text = new TextDecoder().decode(stdout);
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(text)![1]);
}

/**
 * ms for four fresh-connection requests to /fast sent together while
 * /spin?ms=3000 runs (their median): each connection lands on a worker,
 * and one on the busy worker waits for the spin to end.
 */
async function stall(url: string): Promise<number> {
  const fresh = async (path: string) => {
    using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    const start = performance.now();
    await (await fetch(`${url}${path}`, { client })).text();
    return performance.now() - start;
  };
  const slow = fresh("spin?ms=3000");
  await new Promise((resolve) => setTimeout(resolve, 200));
  const times = await Promise.all([1, 2, 3, 4].map(() => fresh("fast")));
  await slow;
  return median(times);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const results: Record<number, { rps: number[]; stall: number[] }> = {
  1: { rps: [], stall: [] },
  2: { rps: [], stall: [] },
};
for (let round = 1; round <= rounds; round++) {
  for (const workers of round % 2 ? [1, 2] : [2, 1]) {
    await withServer(workers, async (url) => {
      await wrk(`${url}work`); // warm-up
      results[workers].rps.push(await wrk(`${url}work`));
      results[workers].stall.push(await stall(url));
    });
    console.error(`round ${round}, ${workers} worker(s) done`);
  }
}
const rps = (w: number) => median(results[w].rps);
const wait = (w: number) => median(results[w].stall);
console.log(
  `| workers | CPU-bound req/s (1 ms each) | /fast while /spin runs 3 s (median of 4 sent together) |
|---|---|---|
| 1 | ${rps(1).toFixed(0)} | ${wait(1).toFixed(0)} ms |
| 2 | ${rps(2).toFixed(0)} | ${wait(2).toFixed(0)} ms |
| 2 ÷ 1 | ${(rps(2) / rps(1)).toFixed(2)}× | ${
    (wait(2) / wait(1)).toFixed(3)
  }× |

${rounds} interleaved rounds, medians; wrk -t2 -c${connections} -d${duration}s; Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores.`,
);
