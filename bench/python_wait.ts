/**
 * How Python in a worker thread waits for the main thread, two ways: JSPI
 * (`pyodide.ffi.run_sync` on a promise the main thread's reply resolves)
 * and a SharedArrayBuffer (`Atomics.wait` in the worker, `Atomics.notify`
 * from the main thread). Each wait is one round trip, as one
 * `wsgi.input.read()` or one backpressure ack costs; 64 KiB of bytes ride
 * along each time, or none (postMessage with a transfer, or a copy into the
 * shared buffer), and become Python bytes. python/ uses JSPI; this is the measurement behind that choice.
 *
 *     deno run -A bench/python_wait.ts [--waits 20000]
 *
 * @module
 */

const WAITS = Number(Deno.args[Deno.args.indexOf("--waits") + 1] || 20000);
const SIZES = [0, 64 * 1024];

interface Scope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

if ((globalThis as { name?: string }).name === "python-wait") {
  const scope = globalThis as unknown as Scope;
  const { loadPyodide } = await import("pyodide");
  const pyodide = await loadPyodide();
  let reply: ((data: Uint8Array) => void) | undefined;
  let shared: Int32Array;
  let bytes: Uint8Array;
  let size = 0;
  const host = {
    ask(): Promise<Uint8Array> {
      scope.postMessage({ t: "ask" });
      return new Promise((resolve) => reply = resolve);
    },
    askSync(): Uint8Array {
      scope.postMessage({ t: "ask" });
      Atomics.wait(shared, 0, 0);
      Atomics.store(shared, 0, 0);
      return bytes.slice(0, size);
    },
  };
  pyodide.globals.set("host", host);
  pyodide.runPython(`
from pyodide.ffi import run_sync
def jspi(n):
    total = 0
    for _ in range(n):
        total += len(run_sync(host.ask()).to_bytes())
    return total
def atomics(n):
    total = 0
    for _ in range(n):
        total += len(host.askSync().to_bytes())
    return total
`);
  const jspi = pyodide.globals.get("jspi");
  const atomics = pyodide.globals.get("atomics");
  scope.onmessage = async ({ data }) => {
    if (data.t === "reply") return reply!(data.bytes);
    shared = new Int32Array(data.sab, 0, 1);
    bytes = new Uint8Array(data.sab, 4);
    size = data.size;
    const started = performance.now();
    if (data.mode === "jspi") await jspi.callPromising(data.waits);
    else atomics(data.waits);
    scope.postMessage({ t: "done", ms: performance.now() - started });
  };
  scope.postMessage({ t: "ready" });
} else {
  const worker = new Worker(import.meta.url, {
    type: "module",
    name: "python-wait",
  });
  const sab = new SharedArrayBuffer(4 + Math.max(...SIZES));
  const shared = new Int32Array(sab, 0, 1);
  const payload = new Uint8Array(sab, 4);
  let mode = "";
  let size = 0;
  let done: (ms: number) => void = () => {};
  worker.onmessage = ({ data }) => {
    if (data.t === "ready") done(0);
    else if (data.t === "done") done(data.ms);
    else if (mode === "jspi") {
      const bytes = new Uint8Array(size);
      worker.postMessage({ t: "reply", bytes }, [bytes.buffer]);
    } else {
      payload.set(new Uint8Array(size));
      Atomics.store(shared, 0, 1);
      Atomics.notify(shared, 0);
    }
  };
  await new Promise((resolve) => done = resolve);
  const rows = [
    "| way | bytes per wait | waits | µs per wait |",
    "| --- | ---: | ---: | ---: |",
  ];
  for (const bytes of SIZES) {
    for (const way of ["jspi", "atomics", "jspi", "atomics"]) {
      mode = way;
      size = bytes;
      const ms = await new Promise<number>((resolve) => {
        done = resolve;
        worker.postMessage({ t: "run", mode: way, waits: WAITS, sab, size });
      });
      rows.push(
        `| ${way} | ${bytes} | ${WAITS} | ${(ms * 1000 / WAITS).toFixed(1)} |`,
      );
    }
  }
  console.log(rows.join("\n"));
  worker.terminate();
}
