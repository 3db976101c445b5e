import type { AuditEntry, AuditKind, AuditPage, AuditQuery } from "../../protocol/accounts.ts";

/** Bounded like a site's activity log: the oldest entries go once it grows past `MAX_ENTRIES`. */
const MAX_ENTRIES = 200_000;
const PRUNE_EVERY = 1_000;

const HOUR_MS = 3600_000;
/** Failed sign-ins from one source written one by one each hour; the rest are counted in one entry per source. */
export const FAILED_SIGN_INS_PER_SOURCE_HOUR = 20;
/**
 * Entries about failed sign-ins written each hour from all sources together, so that many sources (a botnet, or
 * an IPv6 block's many /64s) cannot push real history out either: past it, one entry for the hour counts the rest.
 */
export const FAILED_SIGN_IN_ENTRIES_PER_HOUR = 500;
/**
 * Failed sign-ins against one existing account written one by one each hour whatever the caps above say: a run
 * aimed at a person stays in their own activity log, with the email and address, however many sources flood the
 * hour. Bounded per account, so accounts that exist (which only admins add) bound what this lets through.
 */
export const FAILED_SIGN_INS_PER_ACCOUNT_HOUR = 20;
/** Counters of past hours deleted by each failed sign-in. */
const PRUNE_COUNTERS = 8;
/** The counter row of the hour-wide total (never a source: sources are addresses, /64 blocks or words). */
const ALL_SOURCES = "*";
/** The counter row of an account's failures, beside the sources' (no source has a "user:" prefix). */
const accountCounter = (userId: string) => `user:${userId}`;

/** The source of every address that does not parse: one shared counter, so odd headers buy no extra room. */
const MALFORMED_SOURCE = "malformed";

/**
 * Whose failures are counted together, by the audit trail and by the sign-in throttle alike: an IPv4 address, or an
 * IPv6 address's /64 (one household or machine gets a whole /64, so counting single IPv6 addresses would give one
 * attacker endless room). An IPv4-mapped IPv6 address is its IPv4 address. Never throws: it runs on every failed
 * sign-in, which must be answered 401 whatever address the request claims.
 */
export function failureSource(ip: string | null): string {
  if (!ip) return "unknown";
  const v4 = ipv4Octets(ip);
  if (v4) return v4.join(".");
  const groups = ipv6Groups(ip);
  if (!groups) return MALFORMED_SOURCE;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join(".");
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}

function ipv4Octets(text: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

/** The eight groups of an IPv6 address (a `%zone` ignored, a dotted IPv4 tail read as two groups), or null. */
function ipv6Groups(text: string): number[] | null {
  const address = text.split("%")[0]!;
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const parts = halves.map((h) => (h === "" ? [] : h.split(":")));
  const last = parts[parts.length - 1]!;
  const tail = last[last.length - 1];
  if (tail?.includes(".")) {
    const v4 = ipv4Octets(tail);
    if (!v4) return null;
    last.splice(-1, 1, ((v4[0]! << 8) | v4[1]!).toString(16), ((v4[2]! << 8) | v4[3]!).toString(16));
  }
  if (!parts.every((p) => p.every((g) => /^[0-9a-f]{1,4}$/i.test(g)))) return null;
  const [head = [], rest = []] = parts;
  const given = head.length + rest.length;
  // Without "::" all eight groups are written; with it, it stands for at least one.
  if (parts.length === 1 ? given !== 8 : given > 7) return null;
  return [...head, ...Array<string>(8 - given).fill("0"), ...rest].map((g) => parseInt(g, 16));
}

interface AuditRow {
  id: number;
  at: number;
  kind: string;
  actor: string | null;
  site_id: string | null;
  ip: string | null;
  message: string;
  data: string | null;
  [key: string]: SqlStorageValue;
}

interface CounterRow {
  count: number;
  summary_id: number | null;
  [key: string]: SqlStorageValue;
}

/** The data of an entry that counts the failed sign-ins of an hour not written one by one. */
interface Summary {
  more: number;
  from: string;
  hourStartedAt: number;
}

function summaryMessage(s: Summary): string {
  return `${s.more} more failed sign-in${s.more === 1 ? "" : "s"} ${s.from} in the hour from ${new Date(s.hourStartedAt).toISOString()}, counted here instead of one entry each`;
}

export interface NewAuditEntry {
  kind: AuditKind;
  actor: string | null;
  site?: string | null;
  /** Whether the site's own activity log gets it too (when `site` is set); yes unless said otherwise. */
  siteLog?: boolean;
  /**
   * The user (id) the event is about. They read it in the activity logs it goes to, and an event about a person
   * that names no site (a sign-in, a key) goes to the log of every site they are a member of.
   */
  subject?: string | null;
  /**
   * A wrong password given by a signed-in session: a guess like a failed sign-in (a stolen session may be the one
   * guessing), so it is capped and summed up with them.
   */
  failedPassword?: boolean;
  /** How it reads in a site's log: a failed attempt to get in is a warning, the rest is information. */
  level?: "info" | "warn";
  ip: string | null;
  message: string;
  data?: Record<string, unknown>;
}

/** The hub-wide record of sign-ins, failed sign-ins, keys, invites, roles and sites. Never holds a secret. */
export class AuditTrail {
  private appendsSincePrune = 0;

  constructor(private readonly sql: SqlStorage) {}

  /**
   * Counts a failed sign-in from `ip`, against the account `subject` when it exists; true when it is to be written
   * in full. Otherwise it has been counted in the entry that sums up its source's further failures this hour (or,
   * once the hour's entries run out, every source's).
   */
  admitFailedSignIn(ip: string | null, subject: string | null, now: number): boolean {
    const hour = Math.floor(now / HOUR_MS);
    this.sql.exec(
      "DELETE FROM audit_failures WHERE (hour, source) IN (SELECT hour, source FROM audit_failures WHERE hour < ? LIMIT ?)",
      hour,
      PRUNE_COUNTERS,
    );
    const source = failureSource(ip);
    const mine = this.bump(hour, source);
    const aimed = subject !== null && this.bump(hour, accountCounter(subject)).count <= FAILED_SIGN_INS_PER_ACCOUNT_HOUR;
    const written = this.counter(hour, ALL_SOURCES);
    const room = (written?.count ?? 0) < FAILED_SIGN_IN_ENTRIES_PER_HOUR;
    if ((mine.count <= FAILED_SIGN_INS_PER_SOURCE_HOUR && room) || aimed) {
      this.bump(hour, ALL_SOURCES);
      return true;
    }
    if (mine.summary_id !== null) {
      this.addToSummary(mine.summary_id);
    } else if (room) {
      this.bump(hour, ALL_SOURCES);
      this.summarise(hour, source, `from ${source}`, now);
    } else if (written?.summary_id != null) {
      this.addToSummary(written.summary_id);
    } else {
      this.summarise(hour, ALL_SOURCES, "from any address", now);
    }
    return false;
  }

  private bump(hour: number, source: string): CounterRow {
    return this.sql
      .exec<CounterRow>(
        "INSERT INTO audit_failures (hour, source, count) VALUES (?, ?, 1) ON CONFLICT (hour, source) DO UPDATE SET count = count + 1 RETURNING count, summary_id",
        hour,
        source,
      )
      .one();
  }

  private counter(hour: number, source: string): CounterRow | undefined {
    return this.sql.exec<CounterRow>("SELECT count, summary_id FROM audit_failures WHERE hour = ? AND source = ?", hour, source).toArray()[0];
  }

  private summarise(hour: number, source: string, from: string, now: number): void {
    const data = { more: 1, from, hourStartedAt: hour * HOUR_MS };
    const id = this.append({ kind: "sign_in_failed", actor: null, ip: null, message: summaryMessage(data), data }, now);
    this.sql.exec(
      "INSERT INTO audit_failures (hour, source, count, summary_id) VALUES (?, ?, 0, ?) ON CONFLICT (hour, source) DO UPDATE SET summary_id = excluded.summary_id",
      hour,
      source,
      id,
    );
  }

  private addToSummary(id: number): void {
    const row = this.sql.exec<{ data: string | null }>("SELECT data FROM audit WHERE id = ?", id).toArray()[0];
    // Pruned with the oldest entries: the failures it would count are older than anything kept.
    if (!row?.data) return;
    const data = JSON.parse(row.data) as Summary;
    data.more += 1;
    this.sql.exec("UPDATE audit SET message = ?, data = ? WHERE id = ?", summaryMessage(data), JSON.stringify(data), id);
  }

  append(entry: NewAuditEntry, now: number): number {
    const { id } = this.sql
      .exec<{ id: number }>(
        "INSERT INTO audit (at, kind, actor, site_id, ip, message, data) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        now,
        entry.kind,
        entry.actor,
        entry.site ?? null,
        entry.ip,
        entry.message,
        entry.data ? JSON.stringify(entry.data) : null,
      )
      .one();
    if (++this.appendsSincePrune >= PRUNE_EVERY) {
      this.appendsSincePrune = 0;
      this.sql.exec("DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?", MAX_ENTRIES);
    }
    return id;
  }

  query(q: AuditQuery): AuditPage {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    if (q.site) (where.push("site_id = ?"), args.push(q.site));
    if (q.kind) (where.push("kind = ?"), args.push(q.kind));
    if (q.before !== undefined) (where.push("id < ?"), args.push(q.before));
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const rows = this.sql.exec<AuditRow>(`SELECT * FROM audit ${clause} ORDER BY id DESC LIMIT ?`, ...args, q.limit + 1).toArray();
    const page = rows.slice(0, q.limit);
    const entries: AuditEntry[] = page.map((r) => ({
      id: r.id,
      at: r.at,
      kind: r.kind as AuditKind,
      actor: r.actor,
      site: r.site_id,
      ip: r.ip,
      message: r.message,
      data: r.data ? (JSON.parse(r.data) as Record<string, unknown>) : null,
    }));
    return { entries, nextBefore: rows.length > q.limit ? page[page.length - 1]!.id : null };
  }
}
