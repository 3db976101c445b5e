import { existsSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConversationSummary, ConversationView, SendMessageResponse, ToolCallView, type ChatEvent } from "../../protocol/chat.ts";
import { ChatStream } from "../support/chat-stream.ts";
import { Fleet, type AgentHandle } from "../support/fleet.ts";
import { MockLlm, toolResults } from "../support/mock-llm.ts";
import { waitFor } from "../support/wait-for.ts";

/**
 * The AI chat end to end: a real hub under wrangler dev, real agents, the real `cortex` CLI and the real provider
 * SDKs inside the hub, pointed at the mock LLM server on 127.0.0.1. Each test saves a site key of its own, so the
 * mock's script and recording are the test's alone.
 */
let fleet: Fleet;
let mock: MockLlm;
const agents: Record<string, AgentHandle> = {};
let keyCounter = 0;

beforeAll(async () => {
  fleet = await Fleet.start();
  mock = await MockLlm.start();
  for (const name of ["web-1", "web-2", "web-3"]) agents[name] = await fleet.connectedNode(name, "root");
});

afterAll(async () => {
  await fleet?.close();
  await mock?.close();
});

/** A fresh site key, saved with the CLI the way an admin would (`cortex llm set --site-key`). */
async function freshSiteKey(provider: "anthropic" | "openai" = "anthropic"): Promise<string> {
  keyCounter += 1;
  const key = `e2e-${provider}-${keyCounter}-${process.pid}`;
  const baseUrl = provider === "anthropic" ? mock.anthropicBaseUrl : mock.openaiBaseUrl;
  const model = provider === "anthropic" ? "claude-sonnet-5-5" : "gpt-4o";
  const out = await fleet.cortex.run(["llm", "set", "--site-key", "--provider", provider, "--model", model, "--base-url", baseUrl, "--key", key]);
  expect(out.code, out.stderr).toBe(0);
  expect(out.stdout).not.toContain(key);
  return key;
}

function conversationIdOf(stderr: string): string {
  const id = /conversation (c-[0-9a-f-]{36})/.exec(stderr)?.[1];
  if (!id) throw new Error(`no conversation id in:\n${stderr}`);
  return id;
}

async function conversation(id: string): Promise<ConversationView> {
  return fleet.api.call("GET", `/conversations/${id}`, ConversationView);
}

function jsonLines(stdout: string): { type: string; [key: string]: unknown }[] {
  return stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string });
}

describe("chatting about one machine through the CLI", () => {
  it("calls a tier-1 tool on the real agent and answers from its output", async () => {
    const key = await freshSiteKey();
    mock.script(key, { text: "Let me check. ", toolCalls: [{ name: "get_system_info", input: {} }] }, { text: "Here is what web-1 reports: {{lastToolResult}}" });
    const out = await fleet.cortex.run(["chat", "--node", "web-1", "is web-1 healthy?"]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain("Here is what web-1 reports:");
    expect(out.stdout).toContain(hostname());
    expect(out.stderr).toContain("✓ get_system_info on machine web-1");
    const id = conversationIdOf(out.stderr);
    const toolCall = (await conversation(id)).messages[1]!.toolCalls[0]!;
    expect(toolCall).toMatchObject({ name: "get_system_info", status: "done", tier: 1 });
    const directive = await fleet.api.directive(toolCall.directiveId!);
    expect(directive).toMatchObject({ action: "system.info", status: "done", requestedBy: `admin key via chat ${id}` });
    expect(toolResults(mock.requests(key)[1]!)[0]).toContain(hostname());
    expect(mock.remaining(key)).toBe(0);
  });

  it("runs a tier-3 command once approved (--yes), and runs nothing when denied (--no)", async () => {
    const key = await freshSiteKey();
    const approved = fleet.marker("approved");
    mock.script(key, { toolCalls: [{ name: "run_command", input: { command: `echo ${approved}` } }] }, { text: "It printed: {{lastToolResult}}" });
    const yes = await fleet.cortex.run(["chat", "--node", "web-1", "--yes", "say hello"]);
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stderr).toContain("approved run_command (--yes)");
    expect(yes.stdout).toContain(approved);

    const denied = `/tmp/${fleet.marker("denied")}`;
    mock.script(key, { toolCalls: [{ name: "run_command", input: { command: `touch ${denied}` } }] }, { text: "Understood, I did not touch it." });
    const no = await fleet.cortex.run(["chat", "--node", "web-1", "--no", "--json", "touch a file"]);
    expect(no.code, no.stderr).toBe(0);
    const lines = jsonLines(no.stdout);
    expect(lines.find((l) => l.type === "confirmation")).toMatchObject({ decision: "denied", toolCall: { name: "run_command", input: { command: `touch ${denied}` }, target: { node: "web-1" } } });
    expect(lines.find((l) => l.type === "tool_result")).toMatchObject({ toolCall: { status: "denied" } });
    expect(lines.at(-1)).toMatchObject({ type: "done", status: "done" });
    expect(existsSync(denied)).toBe(false);
    expect(toolResults(mock.requests(key).at(-1)!)[0]).toContain("The user denied this tool call");
    const log = await fleet.api.activity({ kind: "chat" });
    expect(log.entries.some((e) => e.message.includes("admin key approved run_command on machine web-1"))).toBe(true);
    expect(log.entries.some((e) => e.message.includes("admin key denied run_command on machine web-1"))).toBe(true);
  });

  it("a secret in a log file never reaches the model", async () => {
    const key = await freshSiteKey("openai");
    const marker = fleet.marker("secret");
    const file = `/var/log/${marker}.log`;
    const secrets = [`hunter2-${marker}`, "AKIAZZZZYYYYXXXXWWWW", `ghp_${"a1B2".repeat(9)}`];
    writeFileSync(file, [`app started`, `DB_PASSWORD=${secrets[0]}`, `using AWS key ${secrets[1]}`, `Authorization: token ${secrets[2]}`, "app ready"].join("\n") + "\n");
    try {
      mock.script(key, { toolCalls: [{ name: "get_logs", input: { file, lines: 20 } }] }, { text: "The log says: {{lastToolResult}}" });
      const out = await fleet.cortex.run(["chat", "--node", "web-1", "what does the app log say?"]);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toContain("app ready");
      const seen = JSON.stringify(mock.requests(key));
      for (const secret of secrets) {
        expect(seen).not.toContain(secret);
        expect(out.stdout + out.stderr).not.toContain(secret);
      }
      expect(seen).toContain("[REDACTED:");
    } finally {
      rmSync(file, { force: true });
    }
  });
});

describe("roles and limits", () => {
  it("a member's model is offered only tier-1 tools", async () => {
    const key = await freshSiteKey();
    const memberKey = await memberApiKey();
    mock.script(key, { toolCalls: [{ name: "run_command", input: { command: "id" } }] }, { text: "I may not run commands." });
    const out = await fleet.cortex.run(["chat", "--node", "web-1", "--yes", "--json", "run id"], 60_000, { CORTEX_API_KEY: memberKey });
    expect(out.code, out.stderr).toBe(0);
    const offered = ((mock.requests(key)[0]!.body.tools as { name: string }[]) ?? []).map((t) => t.name).sort();
    expect(offered).toEqual(["get_agent_health", "get_disk_usage", "get_logs", "get_network_info", "get_process_list", "get_process_logs", "get_running_processes", "get_service_status", "get_site_logs", "get_system_info", "list_machines"]);
    expect(jsonLines(out.stdout).find((l) => l.type === "tool_result")).toMatchObject({ toolCall: { name: "run_command", status: "refused" } });
    expect(jsonLines(out.stdout).some((l) => l.type === "confirmation")).toBe(false);
  });

  it("stops at the site's step limit with a way to continue", async () => {
    const key = await freshSiteKey();
    await fleet.api.raw("PATCH", fleet.api.sitePath("/settings"), { body: JSON.stringify({ chatStepLimit: 1 }), headers: { "Content-Type": "application/json" } });
    try {
      mock.script(key, { toolCalls: [{ name: "get_agent_health", input: {} }] }, { text: "The agent is healthy." });
      const paused = await fleet.cortex.run(["chat", "--node", "web-1", "is the agent ok?"]);
      expect(paused.code, paused.stderr).toBe(2);
      expect(paused.stderr).toContain("Paused after 1 model calls");
      const id = conversationIdOf(paused.stderr);
      expect(paused.stderr).toContain(`cortex chat --conversation ${id} --continue`);
      const resumed = await fleet.cortex.run(["chat", "--conversation", id, "--continue"]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toContain("The agent is healthy.");
    } finally {
      await fleet.api.raw("PATCH", fleet.api.sitePath("/settings"), { body: JSON.stringify({ chatStepLimit: 15 }), headers: { "Content-Type": "application/json" } });
    }
  });

  it("a refused key is a clear error; a 429 is retried and the answer goes on", async () => {
    const key = await freshSiteKey();
    mock.script(key, { error: { status: 401, message: "invalid x-api-key" } });
    const refused = await fleet.cortex.run(["chat", "--node", "web-1", "hello"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("Anthropic refused the site key (401): invalid x-api-key");
    expect(refused.stderr).toContain("cortex llm set --site-key");

    mock.script(key, { error: { status: 429, retryAfterSeconds: 1 } }, { text: "Hello after a pause." });
    const retried = await fleet.cortex.run(["chat", "--node", "web-1", "hello again"]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stderr).toMatch(/the provider is busy: 429.*trying again in 1\.0s/);
    expect(retried.stdout).toContain("Hello after a pause.");
  });
});

describe("stopping and re-attaching", () => {
  it("Ctrl-C stops the answer mid-stream: the model's request is aborted and the conversation says stopped", async () => {
    const key = await freshSiteKey();
    mock.script(key, { text: ["Thinking ", "very ", "hard…"], hang: true });
    const proc = fleet.cortex.spawn(["chat", "--node", "web-1", "think hard"]);
    await waitFor("the answer to stream", () => proc.stdout.includes("hard…"), { timeoutMs: 30_000 });
    proc.signal("SIGINT");
    const exit = await proc.waitForExit(30_000);
    expect(exit.code, proc.output).toBe(130);
    await waitFor("the mock to see the request aborted", () => mock.requests(key)[0]!.aborted);
    const id = conversationIdOf(proc.stderr);
    expect((await conversation(id)).turn?.status).toBe("stopped");
  });

  it("a second client attaching mid-answer (a reload) gets the text so far, then the rest live; closing it stops nothing", async () => {
    const key = await freshSiteKey();
    mock.script(key, { text: ["Part one, ", "part two"], hang: true });
    const created = await fleet.api.call("POST", "/conversations", ConversationSummary, { target: { node: "web-1" } });
    const first = await openStream(created.id);
    await fleet.api.call("POST", `/conversations/${created.id}/messages`, SendMessageResponse, { text: "two parts please" });
    await first.until((e) => e.type === "text" && e.delta === "part two", "the streamed text", 30_000);
    await first.close();
    const second = await openStream(created.id);
    const synced = await second.until((e): e is Extract<ChatEvent, { type: "synced" }> => e.type === "synced", "the replay", 30_000);
    expect(synced.partial?.text).toBe("Part one, part two");
    mock.release(key);
    expect((await second.done(30_000)).status).toBe("done");
    expect((await conversation(created.id)).messages.at(-1)!.text).toBe("Part one, part two");
    await second.close();
  });
});

describe("every online machine", () => {
  it("one call reaches every online agent (one offline), the model gets one aggregate, the UI each machine", async () => {
    agents["web-3"]!.proc.killGroup("SIGKILL");
    await fleet.waitForStatus("web-3", "disconnected", 60_000);
    const key = await freshSiteKey();
    mock.script(key, { toolCalls: [{ name: "get_agent_health", input: {} }] }, { text: "Summary: {{lastToolResult}}" });
    const out = await fleet.cortex.run(["chat", "--all", "--json", "how are the agents?"]);
    expect(out.code, out.stderr).toBe(0);
    const toolCall = ToolCallView.parse(jsonLines(out.stdout).find((l) => l.type === "tool_result")!.toolCall);
    expect(toolCall.target).toEqual({ all: true, machines: 2 });
    expect(toolCall.results.flatMap((r) => r.nodeIds).sort()).toEqual(["web-1", "web-2"]);
    const shown = toolResults(mock.requests(key)[1]!)[0]!;
    expect(shown).toContain("Ran on 2 machine(s): 2 succeeded");
    expect(shown).not.toContain("web-3");
    const members = await fleet.api.directives({ fanout: toolCall.fanoutId! });
    expect(members.directives.map((d) => d.nodeId).sort()).toEqual(["web-1", "web-2"]);
  });
});

async function openStream(id: string): Promise<ChatStream> {
  const res = await fetch(`${fleet.hub.url}${fleet.api.sitePath(`/conversations/${id}/events`)}`, {
    headers: { Authorization: `Bearer ${fleet.hub.adminKey}`, Accept: "text/event-stream" },
  });
  if (res.status !== 200 || !res.body) throw new Error(`events: ${res.status} ${await res.text()}`);
  return new ChatStream(res.body);
}

/** A member of the default site with an API key of their own: set up the hub's first account, invite, accept. */
async function memberApiKey(): Promise<string> {
  const origin = fleet.hub.url;
  const json = { "Content-Type": "application/json" };
  await fetch(`${origin}/api/setup`, { method: "POST", headers: json, body: JSON.stringify({ setupCode: fleet.hub.adminKey, email: "root@example.com", name: "Root", password: "root password 0123456789" }) });
  const invite = (await (await fleet.api.raw("POST", fleet.api.sitePath("/invites"), { body: JSON.stringify({ role: "member" }), headers: json })).json) as { url: string };
  const token = invite.url.split("/").pop()!;
  const accepted = await fetch(`${origin}/api/invites/accept`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ token, name: "Mia", email: `mia-${process.pid}@example.com`, password: "a member's long password" }),
  });
  const cookie = /__Host-cortex_session=([^;]+)/.exec(accepted.headers.get("set-cookie") ?? "")?.[1];
  if (!cookie) throw new Error(`accepting the invite: ${accepted.status} ${await accepted.text()}`);
  const created = await fetch(`${origin}/api/auth/api-keys`, {
    method: "POST",
    headers: { ...json, Cookie: `__Host-cortex_session=${cookie}`, Origin: origin },
    body: JSON.stringify({ name: "cli", scope: "admin" }),
  });
  return ((await created.json()) as { key: string }).key;
}
