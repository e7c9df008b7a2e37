/**
 * Peer: the lesson's page served by Hono on Deno, what a Deno user would
 * pick instead of WSGI. Benchmark-only (npm:hono is no dependency of the
 * gateway):
 *
 *     deno run --allow-net --allow-read --allow-env --no-lock bench/peers/hono.ts <port>
 *
 * @module
 */
// Inline on purpose: deno.json must not list a dependency the package never
// uses; only this benchmark peer needs Hono.
// deno-lint-ignore no-import-prefix
import { Hono } from "npm:hono@4";
import { lessonResponse } from "../scenarios.ts";
import { listenOn, serveUntilStdinCloses } from "../servers/_lifetime.ts";

const { page } = lessonResponse();
const app = new Hono();
// Like the lesson's app, every path gets the page.
app.all("*", (c) => c.html(page));
await serveUntilStdinCloses(Deno.serve(listenOn(Deno.args[0]), app.fetch));
