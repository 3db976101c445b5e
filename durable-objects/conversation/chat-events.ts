import type { ChatEvent } from "../../protocol/chat.ts";

/** Tag of every client socket of a conversation; a second tag names the user (`user:<id>`) so theirs can be closed. */
export const VIEWER_TAG = "chat-viewer";

export function userTag(userId: string): string {
  return `user:${userId}`;
}

/**
 * The conversation's listeners: hibernatable WebSockets (the dashboard) and event streams returned over RPC (the
 * Worker relays them as server-sent events to the CLI). Both get the same JSON objects: on attach, the replay the
 * caller built (snapshot, transcript, text streamed so far), then every live event.
 */
export class ChatEvents {
  /** Each open stream with the user it was opened for. */
  private readonly streams = new Map<ReadableStreamDefaultController<Uint8Array>, string>();
  private readonly encoder = new TextEncoder();

  constructor(private readonly ctx: DurableObjectState) {}

  acceptSocket(userId: string, replay: ChatEvent[]): Response {
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [VIEWER_TAG, userTag(userId)]);
    for (const event of replay) server.send(JSON.stringify(event));
    return new Response(null, { status: 101, webSocket: client });
  }

  openStream(userId: string, replay: ChatEvent[]): ReadableStream<Uint8Array> {
    let ctrl: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        ctrl = controller;
        for (const event of replay) controller.enqueue(this.line(event));
        this.streams.set(controller, userId);
      },
      cancel: () => void this.streams.delete(ctrl),
    });
  }

  /** Whether anyone is attached (an open socket or stream). */
  watched(): boolean {
    return this.streams.size > 0 || this.ctx.getWebSockets(VIEWER_TAG).length > 0;
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
    const bytes = this.line(event);
    for (const c of this.streams.keys()) {
      try {
        c.enqueue(bytes);
      } catch {
        this.streams.delete(c);
      }
    }
  }

  /** Ends every listener, or only one user's (their session ended, or they lost access to the site). */
  close(code: number, reason: string, userId?: string): void {
    for (const ws of this.ctx.getWebSockets(userId === undefined ? VIEWER_TAG : userTag(userId))) {
      try {
        ws.close(code, reason);
      } catch {
        // Already closed.
      }
    }
    for (const [c, owner] of this.streams) {
      if (userId !== undefined && owner !== userId) continue;
      try {
        c.close();
      } catch {
        // The reader left first.
      }
      this.streams.delete(c);
    }
  }

  private line(event: ChatEvent): Uint8Array {
    return this.encoder.encode(JSON.stringify(event) + "\n");
  }
}
