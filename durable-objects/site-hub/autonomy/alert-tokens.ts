import { alertTokenPrefix, formatAlertToken } from "../../../protocol/alert-token.ts";
import type { AlertTokenView, CreatedAlertToken } from "../../../protocol/autonomy.ts";
import { hashesEqual, randomHex, sha256Hex } from "../../shared/secrets.ts";

const NONE = "0".repeat(64);

/**
 * The site's Alertmanager webhook token (the `alert_token` table): one at a time, stored as its SHA-256 only, shown
 * once when made; making a new one replaces the old at once (rotation).
 */
export class AlertTokens {
  constructor(private readonly sql: SqlStorage) {}

  view(): AlertTokenView {
    const r = this.sql.exec<{ prefix: string; created_at: number; created_by: string }>("SELECT prefix, created_at, created_by FROM alert_token").toArray()[0];
    return r ? { configured: true, prefix: r.prefix, createdAt: r.created_at, createdBy: r.created_by } : { configured: false, prefix: null, createdAt: null, createdBy: null };
  }

  async create(site: string, actor: string, now: number): Promise<CreatedAlertToken> {
    const token = formatAlertToken(site, randomHex(32));
    const hash = await sha256Hex(token);
    this.sql.exec("INSERT OR REPLACE INTO alert_token (id, hash, prefix, created_at, created_by) VALUES (1, ?, ?, ?, ?)", hash, alertTokenPrefix(token), now, actor);
    return { token, view: this.view() };
  }

  remove(): boolean {
    return this.sql.exec("DELETE FROM alert_token").rowsWritten > 0;
  }

  /** Whether `token` is the site's current token. The hash is computed before the row is read, and compared in constant time. */
  async matches(token: string): Promise<boolean> {
    const presented = await sha256Hex(token);
    const stored = this.sql.exec<{ hash: string }>("SELECT hash FROM alert_token").toArray()[0]?.hash;
    return hashesEqual(presented, stored ?? NONE) && stored !== undefined;
  }
}
