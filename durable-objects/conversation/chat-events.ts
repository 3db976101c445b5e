import type { ChatEvent } from "../../protocol/chat.ts";
import { KeepAlive, SSE_KEEPALIVE, SSE_OPEN, sseEvent } from "../shared/sse-wire.ts";
import { closeMatchingSockets, ownerTags, type SocketMatch, type SocketOwner } from "../shared/user-sockets.ts";

/** Tag of every client socket of a conversation; `ownerTags` add who opened it, so theirs can be closed. */
export const VIEWER_TAG = "chat-viewer";
/** Sockets of confined readers (read and chat keys, members) carry this tag too. */
const CONFINED_TAG = "chat-viewer:confined";

/** Who holds a listener, and whether they are confined to the site's readable paths. */
interface Listener {
  owner: SocketOwner | null;
  confined: boolean;
}

function streamMatches(owner: SocketOwner | null, match: SocketMatch): boolean {
  if (!owner) return false;
  if ("userId" in match) return owner.userId === match.userId;
  if ("sessionIds" in match) return owner.sessionId !== null && match.sessionIds.includes(owner.sessionId);
  return owner.apiKeyId !== null && match.apiKeyIds.includes(owner.apiKeyId);
}

/**
 * The conversation's listeners: hibernatable WebSockets (the dashboard) and event streams returned over RPC
 * (server-sent events, `sse-wire.ts`, which the Worker relays as they are to the CLI, with keep-alives while they are
 * open). Both get the same JSON objects: on attach, the replay the caller built (snapshot, transcript, text streamed
 * so far), then every live event.
 */
export class ChatEvents {
  /** Each open stream with who opened it (owner null for the bootstrap admin key, which belongs to nobody). */
  private readonly streams = new Map<ReadableStreamDefaultController<Uint8Array>, Listener>();
  private readonly encoder = new TextEncoder();
  private readonly keepAlive = new KeepAlive(() => {
    for (const c of [...this.streams.keys()]) this.enqueue(c, this.encoder.encode(SSE_KEEPALIVE));
  });

  constructor(private readonly ctx: DurableObjectState) {}

  acceptSocket({ owner, confined }: Listener, replay: ChatEvent[]): Response {
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [VIEWER_TAG, ...(confined ? [CONFINED_TAG] : []), ...(owner ? ownerTags(owner) : [])]);
    for (const event of replay) server.send(JSON.stringify(event));
    return new Response(null, { status: 101, webSocket: client });
  }

  openStream(listener: Listener, replay: ChatEvent[]): ReadableStream<Uint8Array> {
    let ctrl: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        ctrl = controller;
        controller.enqueue(this.encoder.encode(SSE_OPEN + replay.map(sseEvent).join("")));
        this.streams.set(controller, listener);
        this.keepAlive.watch(true);
      },
      cancel: () => this.forget(ctrl),
    });
  }

  emit(event: ChatEvent): void {
    const json = JSON.stringify(event);
    for (const ws of this.ctx.getWebSockets(VIEWER_TAG)) {
      try {
        ws.send(json);
      } catch {
        // A socket that went away is cleaned up by its close event.
      }
    }
    if (!this.streams.size) return;
    const bytes = this.encoder.encode(sseEvent(event));
    for (const c of [...this.streams.keys()]) this.enqueue(c, bytes);
  }

  /** Ends every listener (the conversation was deleted). */
  closeAll(code: number, reason: string): void {
    for (const ws of this.ctx.getWebSockets(VIEWER_TAG)) {
      try {
        ws.close(code, reason);
      } catch {
        // Already closed.
      }
    }
    for (const c of [...this.streams.keys()]) this.end(c);
  }

  /** Ends the listeners of a person, a session or an API key whose access ended; returns how many. */
  closeMatching(match: SocketMatch, code: number, reason: string): number {
    let closed = closeMatchingSockets(this.ctx, match, code, reason);
    for (const [c, { owner }] of [...this.streams]) {
      if (!streamMatches(owner, match)) continue;
      this.end(c);
      closed += 1;
    }
    return closed;
  }

  /** Ends the confined readers' listeners: what comes next in the conversation is not theirs to read. */
  closeConfined(code: number, reason: string): void {
    for (const ws of this.ctx.getWebSockets(CONFINED_TAG)) {
      try {
        ws.close(code, reason);
      } catch {
        // Already closed.
      }
    }
    for (const [c, { confined }] of [...this.streams]) if (confined) this.end(c);
  }

  private end(c: ReadableStreamDefaultController<Uint8Array>): void {
    try {
      c.close();
    } catch {
      // The reader left first.
    }
    this.forget(c);
  }

  private enqueue(c: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array): void {
    try {
      c.enqueue(bytes);
    } catch {
      this.forget(c);
    }
  }

  private forget(c: ReadableStreamDefaultController<Uint8Array>): void {
    this.streams.delete(c);
    this.keepAlive.watch(this.streams.size > 0);
  }
}
