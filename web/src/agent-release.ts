import { signal } from "@preact/signals";
import type { AgentRelease } from "../../protocol/agent-release.ts";
import { request } from "./api.ts";
import { sitePaths } from "./paths.ts";

/** The agent the hub serves now, fetched once per site shown; null until known (or if the hub serves none). */
export const servedAgent = signal<AgentRelease | null>(null);
let loadedFor: string | null = null;

export function loadServedAgent(site: string): void {
  if (loadedFor === site) return;
  loadedFor = site;
  request<AgentRelease>(sitePaths(site).agent).then(
    (release) => (servedAgent.value = release),
    () => (loadedFor = null),
  );
}
