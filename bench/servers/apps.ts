/**
 * Each HTTP scenario's application under its name, for `server.ts` to serve
 * as the README runs it: `server.ts bench/servers/apps.ts:lesson`.
 *
 * @module
 */
import type { Application } from "../../mod.ts";
import { HTTP_SCENARIOS } from "../scenarios.ts";

const app = (name: string): Application => {
  const scenario = HTTP_SCENARIOS[name];
  return scenario.twins(scenario.bytes ?? 0).app;
};

/** The lesson's page. */
export const lesson: Application = app("lesson");
/** 10,000 chunks of 16 bytes. */
export const tiny10k: Application = app("tiny10k");
