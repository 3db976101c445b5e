import { revealControls } from "../../protocol/hidden-characters.ts";
import type { DeploymentEvent, DeploymentView, TargetView } from "../../protocol/roost-api.ts";
import { countTargets } from "../../protocol/roost-counts.ts";
import type { CliContext } from "./cli-context.ts";
import { bytes, json } from "./format.ts";
import type { EventStream } from "./hub-client.ts";

/** Exit codes of a followed deployment. */
export const DEPLOY_EXIT = { ok: 0, failed: 1, held: 2, interrupted: 130 } as const;

const REDRAW_MS = 250;

function progressText(t: TargetView): string {
  const p = t.progress;
  if (!p) return t.status;
  if (p.bytesTotal === 0) return p.phase;
  return `${p.phase} ${bytes(p.bytesDone)}/${bytes(p.bytesTotal)} (${p.chunksDone}/${p.chunksTotal} chunks)`;
}

export function countsLine(d: Pick<DeploymentView, "counts" | "state">): string {
  const c = d.counts;
  const parts = [`${c.done} done`, `${c.failed} failed`, `${c.running} running`];
  if (c.pending) parts.push(`${c.pending} pending`);
  if (c.waiting) parts.push(`${c.waiting} waiting to connect`);
  if (c.skipped) parts.push(`${c.skipped} skipped`);
  return `${d.state}: ${parts.join(", ")} of ${c.total}`;
}

/**
 * Prints a deployment as it goes: one line per machine when it starts, changes phase, succeeds or fails, and on a
 * terminal a live line with the running machines' progress. Stops at the end of the deployment, or when it is held
 * for a person's decision (exit 2), or on Ctrl-C, which leaves the deployment running.
 */
export async function followDeployment(cli: CliContext, open: (signal: AbortSignal) => Promise<EventStream<DeploymentEvent>>, asJson: boolean): Promise<number> {
  const tty = cli.io.stderrIsTTY === true && !asJson;
  const controller = new AbortController();
  const stop = cli.io.onInterrupt(() => controller.abort());
  const targets = new Map<string, TargetView>();
  let deployment = null as DeploymentView | null;
  let live = false;
  let lastDraw = 0;

  const clearLive = () => {
    if (live) cli.err("\r\u001b[K");
    live = false;
  };
  // Targets' errors and the deployment's reason quote what agents printed: show their controls, do not obey them.
  const say = (text: string) => {
    if (asJson) return;
    clearLive();
    cli.err(`${revealControls(text)}\n`);
  };
  const draw = () => {
    if (!tty || !deployment) return;
    const now = Date.now();
    if (now - lastDraw < REDRAW_MS) return;
    lastDraw = now;
    const running = [...targets.values()].filter((t) => t.status === "running");
    const shown = running.slice(0, 3).map((t) => `${t.nodeId} ${progressText(t)}`);
    const more = running.length > 3 ? ` +${running.length - 3}` : "";
    cli.err(`\r${countsLine({ state: deployment.state, counts: deployment.counts })}${shown.length ? ` | ${shown.join(" · ")}${more}` : ""}\u001b[K`);
    live = true;
  };
  const target = (t: TargetView) => {
    const before = targets.get(t.nodeId);
    targets.set(t.nodeId, t);
    if (!before && t.status === "pending") return;
    if (before?.status !== t.status) {
      const why = t.error ? `: ${t.error}` : "";
      say(`${t.nodeId}: ${t.status}${t.wave === "canary" && t.status === "running" ? " (canary)" : ""}${t.status === "done" || t.status === "running" ? "" : why}`);
    } else if (before?.progress?.phase !== t.progress?.phase && t.progress && !tty) {
      say(`${t.nodeId}: ${progressText(t)}`);
    }
  };

  try {
    const stream = await open(controller.signal);
    for await (const event of stream.events) {
      if (event.event === "snapshot" || event.event === "end") {
        deployment = event.deployment;
        for (const t of event.deployment.targets ?? []) target(t);
        if (event.event === "snapshot") say(`deployment ${deployment.id}: ${deployment.kind} ${deployment.roost}@${deployment.version} to ${deployment.counts.total} machine(s) at ${deployment.path}`);
      } else if (event.event === "target") {
        target(event.target);
        if (deployment) deployment = { ...deployment, counts: countTargets(targets.values()) };
      } else {
        const changed = deployment?.state !== event.deployment.state;
        deployment = { ...event.deployment, targets: deployment?.targets };
        if (changed) say(`${event.deployment.state}${event.deployment.reason ? `: ${event.deployment.reason}` : ""}`);
      }
      draw();
      if (deployment?.state === "held") {
        say(`held for a decision: cortex roost promote ${deployment.id}   or   cortex roost abort ${deployment.id}`);
        return finish(cli, deployment, targets, asJson, DEPLOY_EXIT.held);
      }
      if (event.event === "end") return finish(cli, event.deployment, targets, asJson, outcomeCode(event.deployment));
    }
    return finish(cli, deployment, targets, asJson, DEPLOY_EXIT.failed, "the hub ended the stream before the deployment ended");
  } catch (error) {
    if (!controller.signal.aborted) throw error;
    clearLive();
    if (deployment) cli.err(`stopped following; deployment ${deployment.id} goes on (cortex roost watch ${deployment.id})\n`);
    return DEPLOY_EXIT.interrupted;
  } finally {
    clearLive();
    stop();
  }
}

function outcomeCode(d: DeploymentView): number {
  return d.state === "completed" && d.counts.failed === 0 ? DEPLOY_EXIT.ok : DEPLOY_EXIT.failed;
}

function finish(cli: CliContext, d: DeploymentView | null, targets: Map<string, TargetView>, asJson: boolean, code: number, problem?: string): number {
  if (asJson) {
    cli.out(json(d ? { ...d, targets: [...targets.values()] } : null));
  } else if (d) {
    cli.out(revealControls(`${d.kind} ${d.roost}@${d.version} ${d.id}: ${countsLine(d)}${d.reason ? ` (${d.reason})` : ""}\n`));
  }
  if (problem) cli.err(`error: ${problem}\n`);
  return code;
}
