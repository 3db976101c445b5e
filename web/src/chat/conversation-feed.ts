import { signal } from "@preact/signals";
import { CHAT_PING } from "../../../protocol/chat-constants.ts";
import type { ChatEvent, ConversationView } from "../../../protocol/chat.ts";
import { LIVE_KEEPALIVE_MS } from "../../../protocol/limits.ts";
import { ApiFailure, messageOf, request } from "../api.ts";
import { sitePaths } from "../paths.ts";
import { applyEvent, emptyFeed, type FeedState } from "./feed-state.ts";

const MAX_RETRY_MS = 15_000;

/**
 * The live view of one conversation over its socket. While a replay arrives (after every connect) the events build a
 * new state aside and the screen keeps the previous one, so a reconnect never flickers nor shows half a transcript;
 * `synced` swaps it in. A dropped socket reconnects with backoff and re-attaches to whatever is running.
 */
export class ConversationFeed {
  readonly state = signal<FeedState>(emptyFeed());
  /** The first replay has arrived. */
  readonly ready = signal(false);
  /** The socket is down and being reopened. */
  readonly reconnecting = signal(false);
  /** Why the conversation cannot be shown (gone, or no access). */
  readonly failure = signal<string | null>(null);

  private ws: WebSocket | null = null;
  private building: FeedState | null = null;
  private keepalive = 0;
  private retry = 0;
  private attempts = 0;
  private closed = false;

  constructor(
    readonly site: string,
    readonly id: string,
  ) {
    this.open();
  }

  close(): void {
    this.closed = true;
    window.clearTimeout(this.retry);
    window.clearInterval(this.keepalive);
    this.ws?.close(1000, "left the conversation");
    this.ws = null;
  }

  private open(): void {
    if (this.closed) return;
    const url = new URL(sitePaths(this.site).chat.socket(this.id), window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url);
    this.ws = ws;
    this.building = null;
    ws.addEventListener("open", () => {
      this.keepalive = window.setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(CHAT_PING), LIVE_KEEPALIVE_MS);
    });
    ws.addEventListener("message", (e) => {
      if (this.ws !== ws || typeof e.data !== "string" || !e.data.startsWith("{")) return;
      this.receive(JSON.parse(e.data) as ChatEvent);
    });
    ws.addEventListener("close", () => {
      window.clearInterval(this.keepalive);
      if (this.ws !== ws || this.closed || this.state.value.deleted) return;
      this.ws = null;
      this.attempts += 1;
      this.reconnecting.value = true;
      // A refused upgrade looks like any other close: ask over HTTP whether the conversation is still there for us.
      if (this.attempts % 3 === 0) void this.check();
      const delay = Math.min(MAX_RETRY_MS, 500 * 2 ** Math.min(this.attempts - 1, 5)) * (0.5 + Math.random() / 2);
      this.retry = window.setTimeout(() => this.open(), delay);
    });
  }

  private receive(event: ChatEvent): void {
    const now = Date.now();
    if (event.type === "snapshot") {
      this.building = applyEvent(emptyFeed(), event, now);
      return;
    }
    if (this.building) {
      this.building = applyEvent(this.building, event, now);
      if (event.type === "synced") {
        this.state.value = this.building;
        this.building = null;
        this.attempts = 0;
        this.ready.value = true;
        this.reconnecting.value = false;
        this.failure.value = null;
      }
      return;
    }
    this.state.value = applyEvent(this.state.value, event, now);
  }

  private async check(): Promise<void> {
    try {
      await request<ConversationView>(sitePaths(this.site).chat.conversation(this.id));
    } catch (err) {
      if (err instanceof ApiFailure && (err.status === 404 || err.status === 403)) {
        this.failure.value = messageOf(err);
        this.close();
      }
    }
  }
}
