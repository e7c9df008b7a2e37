/**
 * Where the gateway's time per request goes, under V8's CPU profiler. It
 * prints the functions with the most self time, and the inclusive time of
 * the gateway's own functions.
 *
 *     deno run -A bench/profile.ts [hello|headers20|chunks100|post64k] [--iterations 200000]
 *     deno run -A bench/profile.ts --http [lesson|page16k|tiny10k] [--raw] [--duration 5]
 *
 * The first runs a micro-benchmark case through `toFetchHandler` in a loop,
 * with no socket. The second profiles the gateway's server process while
 * `wrk` loads it: that includes what `Deno.serve` does lazily (the URL, the
 * headers, the peer address are fetched from Rust only when read), which
 * no in-process loop can show; `--raw` profiles the raw twin instead, for
 * comparison. The profile stays in .bench/profile/ (open
 * it in Chrome DevTools, or https://www.speedscope.app); `--top` sets how
 * many functions are listed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { toFetchHandler } from "../mod.ts";
import { drain, HTTP_SCENARIOS, MICRO_CASES, SERVE_INFO } from "./scenarios.ts";
import { start, stop, wrk } from "./http.ts";

const PROFILE_DIR = new URL("../.bench/profile/", import.meta.url).pathname;

/** The loop being profiled: the gateway side of one case. */
async function loop(name: string, iterations: number): Promise<void> {
  const { twins, request } = MICRO_CASES[name];
  const gateway = toFetchHandler(twins.app);
  const began = performance.now();
  for (let i = 0; i < iterations; i++) {
    await drain(await gateway(request(), SERVE_INFO));
  }
  const ns = (performance.now() - began) * 1e6 / iterations;
  console.log(`${name}: ${iterations} requests, ${ns.toFixed(0)} ns each`);
}

/** A node of V8's .cpuprofile format. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function label({ callFrame: { functionName, url, lineNumber } }: ProfileNode) {
  const file = url.replace(/^file:\/\/.*\/main\//, "").replace(/^ext:/, "");
  return `${functionName || "(anonymous)"} ${file}${
    file ? `:${lineNumber + 1}` : ""
  }`;
}

/** Self and inclusive time per function, in microseconds. */
function times(profile: Profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfById = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfById.set(id, (selfById.get(id) ?? 0) + profile.timeDeltas[i]);
  });
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  // Walks the call tree; a function on the stack twice counts once.
  const walk = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id)!;
    const name = label(node);
    const own = selfById.get(id) ?? 0;
    self.set(name, (self.get(name) ?? 0) + own);
    const inner = new Set(onStack).add(name);
    let total = own;
    for (const child of node.children ?? []) total += walk(child, inner);
    if (!onStack.has(name)) {
      inclusive.set(name, (inclusive.get(name) ?? 0) + total);
    }
    return total;
  };
  const all = walk(profile.nodes[0].id, new Set());
  return { self, inclusive, all };
}

function top(map: Map<string, number>, all: number, count: number): string {
  return [...map].sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([name, us]) =>
      `${(100 * us / all).toFixed(1).padStart(6)} %  ${
        (us / 1000).toFixed(0).padStart(6)
      } ms  ${name}`
    ).join("\n");
}

/** `deno run` flags that write a CPU profile to `file` on exit. */
function cpuProf(file: string): string[] {
  return [
    "--cpu-prof",
    `--cpu-prof-dir=${PROFILE_DIR}`,
    `--cpu-prof-name=${file}`,
  ];
}

/** Runs a command to the end with the CPU profiler on; false if it failed. */
async function profiled(args: string[], file: string): Promise<boolean> {
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...cpuProf(file),
      ...args,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return success;
}

/** Profiles the gateway's server while wrk loads it for a while. */
async function profileServer(
  side: "wsgi" | "raw",
  scenario: string,
  seconds: number,
  file: string,
): Promise<void> {
  const server = await start(
    {
      name: `${side} server, profiled`,
      command: Deno.execPath(),
      args: (port) => [
        "run",
        ...cpuProf(file),
        "--allow-net=127.0.0.1",
        "bench/servers/twin.ts",
        side,
        scenario,
        String(port),
      ],
    },
    scenario,
    0,
  );
  if (typeof server === "string") throw new Error(server);
  try {
    const { value, p99Ms } = await wrk(50)(server.port, seconds);
    console.log(
      `${scenario} over HTTP: ${value.toFixed(0)} req/s, p99 ${p99Ms} ms`,
    );
  } finally {
    // The profile is written when the server exits.
    await stop(server);
  }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      iterations: { type: "string", default: "200000" },
      duration: { type: "string", default: "5" },
      top: { type: "string", default: "25" },
      http: { type: "boolean", default: false },
      raw: { type: "boolean", default: false },
      child: { type: "boolean", default: false },
    },
  });
  const cases = values.http ? HTTP_SCENARIOS : MICRO_CASES;
  const name = positionals[0] ?? (values.http ? "lesson" : "hello");
  if (!(name in cases)) {
    console.error(`cases: ${Object.keys(cases).join(", ")}`);
    Deno.exit(2);
  }
  if (values.child) {
    await loop(name, Number(values.iterations));
    Deno.exit(0);
  }
  await Deno.mkdir(PROFILE_DIR, { recursive: true });
  const side = values.raw ? "raw" : "wsgi";
  const file = `${values.http ? `http-${side}-` : ""}${name}.cpuprofile`;
  if (values.http) {
    await profileServer(side, name, Number(values.duration), file);
  } else if (
    !await profiled([
      new URL(import.meta.url).pathname,
      name,
      "--child",
      `--iterations=${values.iterations}`,
    ], file)
  ) Deno.exit(1);
  const profile: Profile = JSON.parse(
    await Deno.readTextFile(PROFILE_DIR + file),
  );
  const { self, inclusive, all } = times(profile);
  const count = Number(values.top);
  console.log(`\nself time, top ${count} (of ${(all / 1000).toFixed(0)} ms):`);
  console.log(top(self, all, count));
  const ours = new Map(
    [...inclusive].filter(([name]) => / (gateway|cli|python)\//.test(name)),
  );
  console.log(`\ninclusive time of the gateway's functions:`);
  console.log(top(ours, all, count));
  console.log(`\nprofile: ${PROFILE_DIR}${file}`);
}
