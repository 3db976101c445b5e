import { ConversationSummary, type ConversationListResponse } from "../../protocol/chat.ts";

/**
 * The `conversations` table: one row per conversation of the site, newest activity first, so listing never has to
 * wake every conversation's object. Each conversation keeps its row current; the transcript stays with it.
 */
export class ConversationIndex {
  constructor(private readonly sql: SqlStorage) {}

  put(summary: ConversationSummary): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO conversations (id, owner_id, summary, updated_at) VALUES (?, ?, ?, ?)",
      summary.id,
      summary.ownerId,
      JSON.stringify(summary),
      summary.updatedAt,
    );
  }

  remove(id: string): void {
    this.sql.exec("DELETE FROM conversations WHERE id = ?", id);
  }

  /** One owner's conversations, or everyone's when `ownerId` is null; `before` pages by last update. */
  list(q: { ownerId: string | null; before?: number; limit: number }): ConversationListResponse {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    if (q.ownerId !== null) (where.push("owner_id = ?"), args.push(q.ownerId));
    if (q.before !== undefined) (where.push("updated_at < ?"), args.push(q.before));
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const rows = this.sql
      .exec<{ summary: string; updated_at: number }>(`SELECT summary, updated_at FROM conversations ${clause} ORDER BY updated_at DESC, id DESC LIMIT ?`, ...args, q.limit + 1)
      .toArray();
    const page = rows.slice(0, q.limit);
    return {
      conversations: page.map((r) => ConversationSummary.parse(JSON.parse(r.summary))),
      nextBefore: rows.length > q.limit ? page[page.length - 1]!.updated_at : null,
    };
  }
}
