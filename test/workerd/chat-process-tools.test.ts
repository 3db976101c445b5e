import { describe, expect, it } from "vitest";
import { DirectiveView } from "../../protocol/api.ts";
import { BOOTSTRAP, call, expectJson, newSite } from "./accounts-support.ts";
import { ask, mockKey, newConversation, openChatStream, recorded, script, setSiteKey, view } from "./chat-support.ts";
import { connectNode, registerNode, runningProcess } from "./support.ts";

/** Text of every tool result the model was shown in a recorded (Anthropic-format) request. */
function toolResultsShown(body: Record<string, unknown>): string[] {
  const messages = (body.messages as { role: string; content: unknown }[]) ?? [];
  return messages.flatMap((m) =>
    m.role === "user" && Array.isArray(m.content) ? (m.content as { type: string; content?: unknown }[]).filter((b) => b.type === "tool_result").map((b) => String(b.content)) : [],
  );
}

const RUNNING = runningProcess("api", 4242, 1);

describe("process tools in a conversation", () => {
  it("restart a supervised process through the site's directive path, and tell the model when there is no such process", async () => {
    const site = await newSite();
    const agent = await connectNode(site, await registerNode(site, { name: "web-1", id: "web-1", tier: "root" }));
    expect((await call(BOOTSTRAP, `/api/sites/${site}/nodes/web-1/processes`, { body: { name: "api", command: "/usr/bin/node" } })).status).toBe(201);
    const key = mockKey();
    await setSiteKey(BOOTSTRAP, site, key);
    await script(
      key,
      { toolCalls: [{ name: "restart_process", input: { machine: "web-1", name: "api" } }] },
      { toolCalls: [{ name: "start_process", input: { machine: "web-1", name: "nope" } }] },
      { text: "Done." },
    );
    const conv = await newConversation(BOOTSTRAP, site, { node: "web-1" });
    const stream = await openChatStream(BOOTSTRAP, site, conv.id);
    await ask(BOOTSTRAP, site, conv.id, "restart api on web-1");

    const d = await agent.next("directive");
    agent.take("directive");
    expect({ action: d.action, params: d.params }).toEqual({ action: "supervised.restart", params: { name: "api" } });
    agent.send({ type: "result", directiveId: d.id, success: true, output: "restarted api (pid 4242)\n", durationMs: 5, exitCode: null, data: { kind: "process", status: RUNNING } });
    expect((await stream.done()).status).toBe("done");

    const calls = (await view(BOOTSTRAP, site, conv.id)).messages.flatMap((m) => m.toolCalls);
    expect(calls.map((c) => [c.name, c.tier, c.status, c.target])).toEqual([
      ["restart_process", 2, "done", { node: "web-1" }],
      ["start_process", 2, "failed", { node: "web-1" }],
    ]);
    const shown = toolResultsShown((await recorded(key))[2]!.body);
    expect(shown[0]).toMatch(/^restarted api \(pid 4242\)\nNow: running, pid 4242, up \d+s, 1 restart\(s\)$/);
    expect(shown[1]).toBe("Not done: no process nope on node web-1");
    // Nothing reached the machine for the unknown name; the restart is on record as the asker's, through the chat.
    expect(agent.take("directive")).toEqual([]);
    const restart = await expectJson(await call(BOOTSTRAP, `/api/sites/${site}/directives/${d.id}`), 200, DirectiveView);
    expect(restart.requestedBy).toBe(`admin key via chat ${conv.id}`);
    await stream.close();
    agent.ws.close(1000, "bye");
  });
});
