import { spawn } from "node:child_process";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ChatEvent, type ConversationSummary, type ToolCallView } from "../../protocol/chat.ts";
import { main } from "../../agent/cli/program.ts";
import type { CliIo } from "../../agent/cli/io.ts";
import { sendJson, startFakeHub, type FakeHub, type Recorded, type Route } from "./cli-fake-hub.ts";
import { emptyDir, REPO, runCli } from "./cli-run.ts";

const KEY = "ck_secret_key_0123456789";
const ID = "c-11111111-2222-3333-4444-555555555555";
const TOOL = "t-11111111-2222-3333-4444-555555555555";
const BASE = `/api/sites/default/conversations/${ID}`;
let hub: FakeHub | undefined;

afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

const usage = { inputTokens: 120, outputTokens: 30, costMicroUsd: 540 };

function summary(): ConversationSummary {
  return { id: ID, site: "default", ownerId: "u-1", ownerLabel: "ada@example.com", title: "New conversation", target: { node: "web-1" }, model: null, createdAt: 1, updatedAt: 2, status: null, usage, auto: false, eventId: null };
}

function toolCall(over: Partial<ToolCallView> = {}): ToolCallView {
  return {
    id: TOOL,
    messageId: "m-1",
    name: "run_command",
    input: { command: "systemctl restart nginx" },
    tier: 3,
    runsOn: "agent",
    target: { node: "web-1" },
    status: "awaiting_confirmation",
    directiveId: null,
    fanoutId: null,
    results: [],
    hubAnswer: null,
    error: null,
    expiresAt: Date.now() + 600_000,
    decidedBy: null,
    decidedAt: null,
    startedAt: null,
    endedAt: null,
    ...over,
  };
}

/**
 * A fake hub that plays one answer: after the message arrives it streams text, asks to confirm a tier-3 call, and
 * once decided reports the outcome (run or denied) and ends with `status`.
 */
function answeringHub(status: "done" | "step_limit" | "error" = "done", options: { hangAfterText?: boolean; input?: Record<string, unknown>; output?: string } = {}): Record<string, Route> {
  let stream: ((event: ChatEvent) => void) | null = null;
  const send = (event: ChatEvent) => stream!(ChatEvent.parse(event));
  return {
    "POST /api/sites/default/conversations": (_req, res) => sendJson(res, 201, summary()),
    [`GET ${BASE}/events`]: (_req, res: ServerResponse) => {
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
      stream = (event) => res.write(`data: ${JSON.stringify(event)}\n\n`);
      send({ type: "snapshot", conversation: summary(), turn: null, messages: 0 });
      send({ type: "synced", partial: null });
    },
    [`POST ${BASE}/messages`]: (_req, res) => {
      sendJson(res, 202, { turnId: "r-1", messageId: "m-0" });
      send({ type: "step", turnId: "r-1", messageId: "m-1", model: "claude-sonnet-5-5", provider: "anthropic" });
      send({ type: "text", messageId: "m-1", delta: "Restarting " });
      send({ type: "text", messageId: "m-1", delta: "nginx." });
      if (options.hangAfterText) return;
      send({ type: "usage", messageId: "m-1", model: "claude-sonnet-5-5", usage, total: usage });
      send({ type: "confirmation", toolCall: toolCall(options.input ? { input: options.input } : {}) });
    },
    [`POST ${BASE}/confirmations/${TOOL}`]: (req: Recorded, res) => {
      const approve = (req.body as { approve: boolean }).approve;
      const decided = toolCall({ status: approve ? "done" : "denied", decidedBy: "ada@example.com", results: approve ? [{ nodeIds: ["web-1"], status: "done", exitCode: 0, output: options.output ?? "ok\n", truncated: false, error: null }] : [] });
      sendJson(res, 200, decided);
      send({ type: "tool_result", toolCall: decided });
      send({ type: "text", messageId: "m-2", delta: approve ? "Done." : "Not restarted." });
      send({ type: "done", turnId: "r-1", status, canContinue: status === "step_limit", note: status === "done" ? null : `ended: ${status}` });
    },
    [`POST ${BASE}/stop`]: (_req, res) => {
      sendJson(res, 200, { id: "r-1", status: "running", stepsUsed: 1, stepLimit: 15, toolTier: 3, keySource: "site", startedAt: 1, endedAt: null });
      send({ type: "done", turnId: "r-1", status: "stopped", canContinue: false, note: "Stopped." });
    },
  };
}

/** Runs the CLI in-process with a terminal that answers `answers` in turn, and a Ctrl-C the test can press. */
async function runWithTerminal(argv: string[], answers: string[] | null) {
  let stdout = "";
  let stderr = "";
  const questions: string[] = [];
  let interrupt: (() => void) | null = null;
  const io: CliIo = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: {},
    cwd: emptyDir(),
    homedir: emptyDir(),
    onInterrupt: (handler) => {
      interrupt = handler;
      return () => (interrupt = null);
    },
    ...(answers ? { ask: async (q: string) => (questions.push(q), answers.shift() ?? "") } : {}),
  };
  const code = main(["--hub", hub!.url, "--api-key", KEY, ...argv], io);
  return { code, out: () => ({ stdout, stderr, questions }), interrupt: () => interrupt?.() };
}

describe("cortex chat", () => {
  it("streams the answer to stdout, puts the tier-3 call to the terminal and sends the decision", async () => {
    hub = await startFakeHub(answeringHub());
    const run = await runWithTerminal(["chat", "--node", "web-1", "restart", "nginx"], ["y"]);
    expect(await run.code).toBe(0);
    const { stdout, stderr, questions } = run.out();
    expect(stdout).toBe("Restarting nginx.\nDone.\n");
    expect(questions[0]).toContain("run_command (risk tier 3) on machine web-1");
    expect(questions[0]).toContain('{"command":"systemctl restart nginx"}');
    expect(stderr).toContain("✓ run_command on machine web-1");
    expect(stderr).toContain("120 tokens in, 30 out, $0.0005");
    expect(stderr).toContain(`conversation ${ID}`);
    expect(hub.requests.find((r) => r.path === "/api/sites/default/conversations")!.body).toEqual({ target: { node: "web-1" } });
    expect(hub.requests.find((r) => r.path === `${BASE}/messages`)!.body).toEqual({ text: "restart nginx" });
    expect(hub.requests.find((r) => r.path.endsWith(TOOL))!.body).toEqual({ approve: true });
    // The stream was open before the message was sent, so nothing the answer did could be missed.
    const order = hub.requests.map((r) => `${r.method} ${r.path}`);
    expect(order.indexOf(`GET ${BASE}/events`)).toBeLessThan(order.indexOf(`POST ${BASE}/messages`));
  });

  it("shows the characters that could disguise a tier-3 input, and never passes a machine's escape sequences to the terminal", async () => {
    hub = await startFakeHub(answeringHub("done", { input: { command: "rm -rf /\u202e pmt/ #" } }));
    const run = await runWithTerminal(["chat", "--node", "web-1", "restart", "nginx"], ["n"]);
    expect(await run.code).toBe(0);
    const { questions } = run.out();
    expect(questions[0]).toContain('{"command":"rm -rf /⟨U+202E⟩ pmt/ #"}');
    expect(questions[0]).toContain("1 hidden or direction-changing character(s)");
    expect(questions[0]).not.toContain("\u202e");
    expect(hub.requests.find((r) => r.path.endsWith(TOOL))!.body).toEqual({ approve: false });

    await hub.close();
    hub = await startFakeHub(answeringHub("done", { output: "\u001b]52;c;ZXZpbA==\u0007restarted\n" }));
    const approved = await runWithTerminal(["chat", "--node", "web-1", "restart", "nginx"], ["y"]);
    expect(await approved.code).toBe(0);
    const { stderr } = approved.out();
    expect(stderr).toContain("│ ⟨U+001B⟩]52;c;ZXZpbA==⟨U+0007⟩restarted");
    expect(stderr).not.toContain("\u001b");
  });

  it("--json prints one typed object per line, and --no denies", async () => {
    hub = await startFakeHub(answeringHub());
    const r = await runCli(["--hub", hub.url, "--api-key", KEY, "chat", "--node", "web-1", "--json", "--no", "restart nginx"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; decision?: string; status?: string });
    expect(new Set(lines.map((l) => l.type))).toEqual(new Set(["text", "usage", "confirmation", "tool_result", "done"]));
    expect(lines.find((l) => l.type === "confirmation")!.decision).toBe("denied");
    expect(lines.at(-1)).toMatchObject({ type: "done", status: "done", conversationId: ID });
    expect(hub.requests.find((r) => r.path.endsWith(TOOL))!.body).toEqual({ approve: false });
  });

  it("without a terminal and without --yes, a tier-3 call is denied, not approved", async () => {
    hub = await startFakeHub(answeringHub());
    const run = await runWithTerminal(["chat", "--node", "web-1", "restart nginx"], null);
    expect(await run.code).toBe(0);
    expect(run.out().stderr).toContain("there is no terminal to ask on");
    expect(hub.requests.find((r) => r.path.endsWith(TOOL))!.body).toEqual({ approve: false });
  });

  it("exits 2 at the step limit with the way to continue, and 1 on an error", async () => {
    hub = await startFakeHub(answeringHub("step_limit"));
    const paused = await runCli(["--hub", hub.url, "--api-key", KEY, "chat", "--node", "web-1", "--yes", "go"]);
    expect(paused.code).toBe(2);
    expect(paused.stderr).toContain(`cortex chat --conversation ${ID} --continue`);
    await hub.close();
    hub = await startFakeHub(answeringHub("error"));
    const failed = await runCli(["--hub", hub.url, "--api-key", KEY, "chat", "--node", "web-1", "--yes", "go"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("ended: error");
  });

  it("Ctrl-C asks the hub to stop the answer and exits 130", async () => {
    hub = await startFakeHub(answeringHub("done", { hangAfterText: true }));
    const run = await runWithTerminal(["chat", "--node", "web-1", "restart nginx"], null);
    // Pressed while the answer streams: the stop goes to the hub, and the hub ends the answer.
    await hub.waitFor(`POST ${BASE}/messages`);
    run.interrupt();
    expect(await run.code).toBe(130);
    expect(hub.requests.some((r) => r.path === `${BASE}/stop`)).toBe(true);
    expect(run.out().stdout).toBe("Restarting nginx.\n");
  });

  it("continues a conversation by id, and refuses bad arguments before any request", async () => {
    hub = await startFakeHub({ ...answeringHub(), [`PATCH ${BASE}`]: (_req, res) => sendJson(res, 200, summary()) });
    const r = await runCli(["--hub", hub.url, "--api-key", KEY, "chat", "--conversation", ID, "--all", "--model", "claude-opus-5-5", "--yes", "and now?"]);
    expect(r.code).toBe(0);
    expect(hub.requests.find((q) => q.method === "PATCH")!.body).toEqual({ target: { all: true }, model: "claude-opus-5-5" });
    expect(hub.requests.some((q) => q.method === "POST" && q.path === "/api/sites/default/conversations")).toBe(false);
    const before = hub.requests.length;
    const cases = [
      ["chat", "no target"],
      ["chat", "--node", "web-1"],
      ["chat", "--node", "web-1", "--all", "q"],
      ["chat", "--node", "web-1", "--yes", "--no", "q"],
      ["chat", "--conversation", "nope", "q"],
      ["chat", "--continue", "q"],
      ["chat", "--node", "Bad Node", "q"],
    ];
    for (const argv of cases) {
      const bad = await runCli(["--hub", hub.url, "--api-key", KEY, ...argv]);
      expect(bad.code, argv.join(" ")).not.toBe(0);
    }
    expect(hub.requests.length).toBe(before);
  });

  it("lists conversations", async () => {
    hub = await startFakeHub({ "GET /api/sites/default/conversations": (_req, res) => sendJson(res, 200, { conversations: [summary()], nextBefore: null }) });
    const r = await runCli(["--hub", hub.url, "--api-key", KEY, "chat", "list", "--mine"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${ID}.*New conversation.*web-1.*new`));
    expect(hub.requests[0]!.query.get("mine")).toBe("1");
  });
});

describe("cortex llm", () => {
  const saved = { key: { scope: "personal", provider: "openai-compatible", model: "llama3.1", baseUrl: "http://127.0.0.1:11434/v1", last4: "wxyz", updatedAt: 1, updatedBy: "ada@example.com" } };

  it("set sends the key once and prints only its last four characters; --site-key targets the site", async () => {
    hub = await startFakeHub({
      "PUT /api/account/llm-key": (_req, res) => sendJson(res, 200, saved),
      "PUT /api/sites/default/llm-key": (_req, res) => sendJson(res, 200, { key: { ...saved.key, scope: "site" } }),
      "GET /api/account/llm-key": (_req, res) => sendJson(res, 200, saved),
      "DELETE /api/sites/default/llm-key": (_req, res) => sendJson(res, 200, { key: null }),
    });
    const argv = ["--hub", hub.url, "--api-key", KEY, "llm", "set", "--provider", "openai-compatible", "--model", "llama3.1", "--base-url", "http://127.0.0.1:11434/v1", "--key", "secret-wxyz"];
    const r = await runCli(argv);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("…wxyz");
    expect(r.stdout).not.toContain("secret-wxyz");
    expect(hub.requests[0]!.body).toEqual({ provider: "openai-compatible", model: "llama3.1", key: "secret-wxyz", baseUrl: "http://127.0.0.1:11434/v1" });
    expect((await runCli([...argv, "--site-key"])).code).toBe(0);
    expect(hub.requests[1]!.path).toBe("/api/sites/default/llm-key");
    const shown = await runCli(["--hub", hub.url, "--api-key", KEY, "llm", "show"]);
    expect(shown.stdout).toMatch(/provider:\s+openai-compatible/);
    expect(shown.stdout).toMatch(/key:\s+…wxyz/);
    expect((await runCli(["--hub", hub.url, "--api-key", KEY, "llm", "clear", "--site-key"])).stdout).toContain("Removed the site's AI key");
  });

  it("refuses a bad provider or base URL before sending, without echoing the key", async () => {
    hub = await startFakeHub({});
    const noBase = await runCli(["--hub", hub.url, "--api-key", KEY, "llm", "set", "--provider", "openai-compatible", "--model", "m", "--key", "secret-1234"]);
    expect(noBase.code).toBe(1);
    expect(noBase.stderr).toContain("needs a base URL");
    const badBase = await runCli(["--hub", hub.url, "--api-key", KEY, "llm", "set", "--provider", "openai", "--model", "m", "--key", "secret-1234", "--base-url", "ftp://x"]);
    expect(badBase.stderr).toContain("http:// or https://");
    const badProvider = await runCli(["--hub", hub.url, "--api-key", KEY, "llm", "set", "--provider", "cohere", "--model", "m", "--key", "secret-1234"]);
    expect(badProvider.code).not.toBe(0);
    for (const r of [noBase, badBase, badProvider]) expect(r.stderr + r.stdout).not.toContain("secret-1234");
    expect(hub.requests).toEqual([]);
  });

  it("reads the key from standard input when it is not a terminal, keeping it off the command line", async () => {
    hub = await startFakeHub({ "PUT /api/account/llm-key": (_req, res) => sendJson(res, 200, saved) });
    const child = spawn(process.execPath, [join(REPO, "bin", "cortex.mjs"), "--hub", hub.url, "llm", "set", "--provider", "anthropic", "--model", "claude-sonnet-5-5"], {
      cwd: emptyDir(),
      env: { PATH: process.env.PATH ?? "", HOME: emptyDir(), CORTEX_API_KEY: KEY },
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdin.end("sk-ant-from-stdin-wxyz\n");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect((hub.requests[0]!.body as { key: string }).key).toBe("sk-ant-from-stdin-wxyz");
  });
});
