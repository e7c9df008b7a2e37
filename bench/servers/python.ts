/**
 * A Python WSGI file served by the gateway through Pyodide, for
 * bench/python.ts:
 *
 *     deno run --allow-net=127.0.0.1 --allow-read bench/servers/python.ts <port> <file.py> <callable> [pythonpath]
 *
 * @module
 */
import { serve } from "../../mod.ts";
import { loadPythonApp } from "../../python.ts";
import { listenOn, serveUntilStdinCloses } from "./_lifetime.ts";

const [port, file, callable, ...pythonPath] = Deno.args;
const app = await loadPythonApp(file, { callable, pythonPath });
console.error(`Pyodide started in ${app.python.startup.toFixed(0)} ms`);
await serveUntilStdinCloses(serve(app, listenOn(port)));
