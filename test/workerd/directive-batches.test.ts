import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DirectiveEvent, DirectiveView } from "../../protocol/api.ts";
import { MAX_BATCH_MESSAGES, MAX_CHUNK_BYTES, MAX_STORED_OUTPUT_BYTES } from "../../protocol/limits.ts";
import type { BatchedMessage, DirectiveMessage } from "../../protocol/node-messages.ts";
import { api, connectNode, type FakeAgent, freshSite, registerNode } from "./support.ts";

/**
 * `batch` frames: several acks, chunks and results in one frame, taken in one turn. Nothing accepted may be lost or
 * reordered, however the messages of one directive are spread over frames, and a node still reports only on its own.
 */

async function nodeOnline(site: string, name: string): Promise<FakeAgent> {
  return connectNode(site, await registerNode(site, { name, tier: "root" }));
}

async function started(site: string, agent: FakeAgent, node: string, accept?: string) {
  const done = api(`/api/sites/${site}/nodes/${node}/directives`, {
    method: "POST",
    body: JSON.stringify({ action: "bash", params: { command: "x" } }),
    headers: accept ? { Accept: accept } : {},
  });
  const d = await agent.next("directive");
  agent.take("directive");
  return { d, done };
}

function batch(...messages: BatchedMessage[]) {
  return { type: "batch", messages };
}

const ack = (d: DirectiveMessage): BatchedMessage => ({ type: "directive_ack", directiveId: d.id });
const chunk = (d: DirectiveMessage, seq: number, text: string): BatchedMessage => ({ type: "stream_chunk", directiveId: d.id, seq, chunk: text, stream: "stdout" });
const result = (d: DirectiveMessage, output: string, chunks: number): BatchedMessage => ({
  type: "result",
  directiveId: d.id,
  success: true,
  output,
  durationMs: 1,
  exitCode: 0,
  chunks,
});

/** The directive's row and its stored chunks, as the object holds them now. */
async function stored(site: string, id: string) {
  return runInDurableObject(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)), (_hub, state) => {
    const row = state.storage.sql.exec<{ status: string; chunks_received: number; output_bytes: number }>("SELECT status, chunks_received, output_bytes FROM directives WHERE id = ?", id).one();
    const chunks = state.storage.sql.exec<{ seq: number; chunk: string }>("SELECT seq, chunk FROM directive_chunks WHERE directive_id = ? ORDER BY seq", id).toArray();
    return { ...row, chunks };
  });
}

async function readEvents(res: Response): Promise<DirectiveEvent[]> {
  return (await res.text())
    .split("\n\n")
    .filter((f) => f.startsWith("data: "))
    .map((f) => DirectiveEvent.parse(JSON.parse(f.slice(6))));
}

describe("batch frames", () => {
  it("records a directive answered in one frame (ack, output, result): running, chunks in order, then the result", async () => {
    const site = freshSite();
    const agent = await nodeOnline(site, "n1");
    const { d, done } = await started(site, agent, "n1", "text/event-stream");
    agent.send(batch(ack(d), chunk(d, 0, "hel"), chunk(d, 1, "lo\n"), result(d, "hello\n", 2)));
    const events = await readEvents(await done);
    expect(events.map((e) => (e.event === "chunk" ? `chunk ${e.seq}` : e.event === "status" ? e.status : e.event))).toEqual([
      "sent",
      "running",
      "chunk 0",
      "chunk 1",
      "result",
    ]);
    const view = events.at(-1)!.event === "result" ? (events.at(-1) as Extract<DirectiveEvent, { event: "result" }>).directive : null;
    expect(view).toMatchObject({ status: "done", output: "hello\n", outputBytes: 6, exitCode: 0 });
    expect(view!.startedAt).not.toBeNull();
    expect(view!.startedAt!).toBeLessThanOrEqual(view!.endedAt!);
    // The whole output came with the result: it is kept once, in the directive's row, not again as chunk rows.
    expect((await stored(site, d.id)).chunks).toEqual([]);
  });

  it("keeps every chunk, in order, when a directive's messages are spread over frames and the result overtakes them", async () => {
    const site = freshSite();
    const agent = await nodeOnline(site, "n1");
    const { d, done } = await started(site, agent, "n1");
    agent.send(batch(ack(d), chunk(d, 0, "a"), result(d, "abcd", 4)));
    agent.send(batch(chunk(d, 3, "d"), chunk(d, 1, "b")));
    // What the frames so far brought is written: two chunks, counted, the result still waiting for the rest.
    agent.send({ type: "heartbeat", agentId: "n1" });
    await agent.next("heartbeat_ack");
    expect(await stored(site, d.id)).toMatchObject({ status: "running", chunks_received: 3, chunks: [{ seq: 0 }, { seq: 1 }, { seq: 3 }] });
    agent.send(batch(chunk(d, 1, "b"), chunk(d, 2, "c")));
    const view = DirectiveView.parse(await (await done).json());
    expect(view).toMatchObject({ status: "done", output: "abcd", outputBytes: 4, truncated: false });
  });

  it("counts streamed output in UTF-8 bytes, whatever the characters, up to a chunk of the largest size", async () => {
    const site = freshSite();
    const agent = await nodeOnline(site, "n1");
    const { d, done } = await started(site, agent, "n1");
    // Two, three and four bytes a character, a lone surrogate (sent as U+FFFD, three bytes), and a full-size chunk
    // of three-byte characters.
    const texts = ["é", "€", "🙂", "\ud800", "€".repeat(MAX_CHUNK_BYTES)];
    agent.send(batch(ack(d), ...texts.map((t, i) => chunk(d, i, t))));
    agent.send(batch(result(d, "", texts.length)));
    const view = DirectiveView.parse(await (await done).json());
    expect(view).toMatchObject({ status: "done", outputBytes: 2 + 3 + 4 + 3 + 3 * MAX_CHUNK_BYTES });
  });

  it("keeps what accepted frames brought when the object restarts between frames", async () => {
    const site = freshSite();
    const agent = await nodeOnline(site, "n1");
    const { d, done } = await started(site, agent, "n1");
    agent.send(batch(ack(d), chunk(d, 0, "one "), chunk(d, 1, "two ")));
    agent.send(batch(chunk(d, 2, "three")));
    agent.send({ type: "heartbeat", agentId: "n1" });
    await agent.next("heartbeat_ack");
    await runInDurableObject(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)), (_hub, state) => {
      try {
        state.abort("test restart");
      } catch {
        // abort() throws in the caller's context once the object is reset.
      }
    }).catch(() => undefined);
    await done.catch(() => undefined);
    // The restarted object has no socket: the directive is lost, with every chunk the two frames brought, in order.
    const view = DirectiveView.parse(await (await api(`/api/sites/${site}/directives/${d.id}`)).json());
    expect(view).toMatchObject({ status: "lost", output: "one two three", outputBytes: 13 });
    expect(view.startedAt).not.toBeNull();
  });

  it("sorts the messages of two directives interleaved in one frame to their own directives", async () => {
    const site = freshSite();
    const agent = await nodeOnline(site, "n1");
    const one = await started(site, agent, "n1");
    const two = await started(site, agent, "n1");
    agent.send(
      batch(ack(one.d), ack(two.d), chunk(one.d, 0, "1a"), chunk(two.d, 0, "2a"), chunk(two.d, 1, "2b"), chunk(one.d, 1, "1b"), result(two.d, "2a2b", 2), result(one.d, "1a1b", 2)),
    );
    expect(DirectiveView.parse(await (await one.done).json())).toMatchObject({ status: "done", output: "1a1b" });
    expect(DirectiveView.parse(await (await two.done).json())).toMatchObject({ status: "done", output: "2a2b" });
  });

  it("keeps the chunks when the result's output is not their text, and the result's own text when there were none", async () => {
    const site = freshSite();
    const agent = await nodeOnline(site, "n1");
    const streamed = await started(site, agent, "n1");
    agent.send(batch(ack(streamed.d), chunk(streamed.d, 0, "from the stream"), result(streamed.d, "something else", 1)));
    expect(DirectiveView.parse(await (await streamed.done).json())).toMatchObject({ output: "from the stream" });
    expect((await stored(site, streamed.d.id)).chunks).toHaveLength(1);
    const plain = await started(site, agent, "n1");
    agent.send(batch(ack(plain.d), result(plain.d, "no stream", 0)));
    expect(DirectiveView.parse(await (await plain.done).json())).toMatchObject({ output: "no stream" });
  });

  it("counts chunks past the stored cap without keeping them, over many frames", async () => {
    const site = freshSite();
    const agent = await nodeOnline(site, "n1");
    const { d, done } = await started(site, agent, "n1");
    const piece = "y".repeat(MAX_CHUNK_BYTES / 4);
    const total = (2 * MAX_STORED_OUTPUT_BYTES) / piece.length;
    for (let seq = 0; seq < total; seq += 8) agent.send(batch(...Array.from({ length: 8 }, (_, i) => chunk(d, seq + i, piece))));
    agent.send(batch(result(d, "", total)));
    const view = DirectiveView.parse(await (await done).json());
    expect(view).toMatchObject({ status: "done", truncated: true, outputBytes: 2 * MAX_STORED_OUTPUT_BYTES });
    expect(view.output!.length).toBe(MAX_STORED_OUTPUT_BYTES);
  });

  it("refuses what a frame says about another node's directive or an unknown one, and takes the rest", async () => {
    const site = freshSite();
    const mine = await nodeOnline(site, "mine");
    const theirs = await nodeOnline(site, "theirs");
    const own = await started(site, mine, "mine");
    const other = await started(site, theirs, "theirs");
    const ghost = { ...other.d, id: "d-00000000-0000-0000-0000-000000000000" };
    mine.send(batch(ack(own.d), result(other.d, "forged", 0), chunk(ghost, 0, "boo"), result(own.d, "mine", 0)));
    expect(DirectiveView.parse(await (await own.done).json())).toMatchObject({ status: "done", output: "mine" });
    const errors = [await mine.next("error")];
    mine.take("error");
    expect(errors[0]).toMatchObject({ code: "not_yours" });
    expect(await stored(site, other.d.id)).toMatchObject({ status: "sent", chunks_received: 0 });
    theirs.send(batch(ack(other.d), result(other.d, "theirs", 0)));
    expect(DirectiveView.parse(await (await other.done).json())).toMatchObject({ status: "done", output: "theirs" });
  });

  it("refuses a frame that is not a valid batch, and changes nothing", async () => {
    const site = freshSite();
    const agent = await nodeOnline(site, "n1");
    const { d } = await started(site, agent, "n1");
    const tooMany = Array.from({ length: MAX_BATCH_MESSAGES + 1 }, (_, seq) => chunk(d, seq, "x"));
    for (const frame of [
      batch(...tooMany),
      batch(),
      { type: "batch", messages: [{ type: "heartbeat", agentId: "n1" }] },
      { type: "batch", messages: [ack(d), { type: "register", agentId: "n1", name: "n1", capabilities: [], version: "x" }] },
    ]) {
      agent.send(frame);
      expect(await agent.next("error")).toMatchObject({ code: "invalid_message" });
      agent.take("error");
    }
    expect(await stored(site, d.id)).toMatchObject({ status: "sent", chunks_received: 0, chunks: [] });
  });
});
