import { signal } from "@preact/signals";
import type { ConversationListResponse, ConversationSummary } from "../../../protocol/chat.ts";
import { messageOf, request } from "../api.ts";
import { sitePaths } from "../paths.ts";

/** The site's conversations as the chat page lists them, newest first (the hub's order). */
export const conversations = signal<ConversationSummary[] | null>(null);
export const listError = signal("");
let loaded: { site: string; mine: boolean } | null = null;

export async function loadConversations(site: string, mine: boolean): Promise<void> {
  if (loaded?.site !== site) conversations.value = null;
  loaded = { site, mine };
  try {
    const page = await request<ConversationListResponse>(sitePaths(site).chat.conversations({ mine: mine ? "1" : undefined, limit: 100 }));
    if (loaded.site !== site || loaded.mine !== mine) return;
    conversations.value = page.conversations;
    listError.value = "";
  } catch (err) {
    listError.value = messageOf(err);
  }
}

/** A summary that changed here (renamed, new answer) replaces the listed one at once, moving it to the top. */
export function upsertConversation(summary: ConversationSummary): void {
  const rest = (conversations.value ?? []).filter((c) => c.id !== summary.id);
  conversations.value = [summary, ...rest].sort((a, b) => b.updatedAt - a.updatedAt);
}

export function dropConversation(id: string): void {
  conversations.value = (conversations.value ?? []).filter((c) => c.id !== id);
}
