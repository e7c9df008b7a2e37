/**
 * What one crossing between the main thread and a worker thread costs when
 * the other side sleeps, as it does between Python requests: a message and
 * its reply by `postMessage` (how python/pool.ts and python/worker.ts talk),
 * against a word in a SharedArrayBuffer, `Atomics.notify` and
 * `Atomics.waitAsync` (what a shared-memory ring would use; no copy, no
 * event). One round trip per step, the next sent when the reply is in:
 * wall time and the process's CPU (every thread) per round trip, medians of
 * the rounds.
 *
 *     deno run -A bench/crossing.ts [--trips 20000] [--rounds 5]
 *
 * @module
 */
import process from "node:process";

const flag = (name: string, fallback: number) =>
  Number(Deno.args[Deno.args.indexOf(name) + 1] || fallback);
const TRIPS = flag("--trips", 20000);
const ROUNDS = flag("--rounds", 5);

interface Scope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}

if ((globalThis as { name?: string }).name === "crossing") {
  const scope = globalThis as unknown as Scope;
  scope.onmessage = async ({ data }) => {
    if (typeof data === "number") return scope.postMessage(data);
    // A SharedArrayBuffer: answer each bump of word 0 on word 1.
    const words = new Int32Array(data);
    for (let i = 0;; i++) {
      const wait = Atomics.waitAsync(words, 0, i);
      if (wait.async) await wait.value;
      if (Atomics.load(words, 0) < 0) return;
      Atomics.store(words, 1, i + 1);
      Atomics.notify(words, 1);
    }
  };
} else {
  const worker = new Worker(import.meta.url, {
    type: "module",
    name: "crossing",
  });
  const messages = async () => {
    let left = TRIPS;
    await new Promise<void>((done) => {
      worker.onmessage = () => --left === 0 ? done() : worker.postMessage(left);
      worker.postMessage(left);
    });
  };
  const words = new Int32Array(new SharedArrayBuffer(8));
  worker.postMessage(words.buffer);
  let trip = 0;
  const atomics = async () => {
    for (let i = 0; i < TRIPS; i++, trip++) {
      Atomics.store(words, 0, trip + 1);
      Atomics.notify(words, 0);
      const wait = Atomics.waitAsync(words, 1, trip);
      if (wait.async) await wait.value;
    }
  };
  const ways = { "postMessage": messages, "Atomics.waitAsync": atomics };
  const results = new Map<string, { wall: number[]; cpu: number[] }>();
  for (let round = 0; round <= ROUNDS; round++) {
    for (const [name, way] of Object.entries(ways)) {
      const cpu = process.cpuUsage();
      const began = performance.now();
      await way();
      const wall = (performance.now() - began) * 1000 / TRIPS;
      const used = process.cpuUsage(cpu);
      // The first round warms up.
      if (round === 0) continue;
      const result = results.get(name) ?? { wall: [], cpu: [] };
      result.wall.push(wall);
      result.cpu.push((used.user + used.system) / TRIPS);
      results.set(name, result);
    }
  }
  Atomics.store(words, 0, -1);
  Atomics.notify(words, 0);
  worker.terminate();
  const median = (values: number[]) =>
    values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`${TRIPS} round trips × ${ROUNDS} rounds, medians:`);
  for (const [name, { wall, cpu }] of results) {
    console.log(
      `${name.padEnd(18)} ${
        median(wall).toFixed(1).padStart(6)
      } µs a round trip, ${median(cpu).toFixed(1).padStart(6)} µs of CPU`,
    );
  }
}
