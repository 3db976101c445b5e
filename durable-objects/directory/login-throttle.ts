import { failureSource } from "./audit-trail.ts";

/**
 * Slows down password and passkey guessing without letting a stranger lock the real user out.
 *
 * Every attempt counts as a failure when it starts (so parallel guesses cannot slip in before the first one is
 * judged) and is taken back if it succeeds. Past a number of free failures a key is locked for a window that
 * doubles with each further failure; a quiet day forgets the count. An "address" is the source the audit trail
 * counts failures by (`failureSource`): an IPv4 address or an IPv6 /64, since whoever holds one IPv6 address holds
 * its whole /64. Password attempts are counted under two keys:
 * - the (account, address) pair, which locks: one address guessing one account is stopped;
 * - the address, which locks with more room (an office behind one NAT shares one): one address spraying many
 *   accounts is stopped.
 * Once an account's pairs add up to many recent failures it is under attack and each pair gets fewer free failures,
 * so guessing from many addresses is slowed. An address with no recent failures is never refused, so the right
 * password from the user's own address still signs in during an attack.
 * Passkeys have counters of their own: password failures never block a passkey, and single sign-on is never
 * throttled here at all (Cloudflare Access has verified the person before the hub sees them).
 */
export interface ThrottlePolicy {
  freeFailures: number;
  baseLockMs: number;
  maxLockMs: number;
}

export const PAIR_POLICY: ThrottlePolicy = { freeFailures: 5, baseLockMs: 30_000, maxLockMs: 60 * 60_000 };
/** A pair's policy while its account is under attack: one free failure, then the same doubling locks. */
export const PAIR_POLICY_UNDER_ATTACK: ThrottlePolicy = { ...PAIR_POLICY, freeFailures: 1 };
export const ADDRESS_POLICY: ThrottlePolicy = { freeFailures: 20, baseLockMs: 30_000, maxLockMs: 60 * 60_000 };
/** Recent failures of an account's pairs, from any address, past which it counts as under attack. */
export const ACCOUNT_UNDER_ATTACK_AFTER = 10;
const FORGET_AFTER_MS = 24 * 3600_000;
/**
 * Forgotten rows deleted by each reservation: more than the three it may add, so anonymous attempts with made-up
 * emails leave at most a day's worth of rows behind, pruned in bounded steps rather than by one long sweep.
 */
const PRUNE_PER_RESERVE = 8;

export interface ThrottleKey {
  key: string;
  policy: ThrottlePolicy;
  /** On success the count is cleared (the pair: this person on this address is fine) or one failure taken back. */
  clearOnSuccess: boolean;
}

export function addressKey(ip: string | null): ThrottleKey {
  return { key: `ip:${failureSource(ip)}`, policy: ADDRESS_POLICY, clearOnSuccess: false };
}

/** Failed passkey assertions, by address only: a passkey names no account until it has been verified. */
export function passkeyAddressKey(ip: string | null): ThrottleKey {
  return { key: `passkey-ip:${failureSource(ip)}`, policy: ADDRESS_POLICY, clearOnSuccess: false };
}

interface Row {
  failures: number;
  last_failure_at: number;
  locked_until: number;
  [key: string]: SqlStorageValue;
}

export function lockMs(failures: number, policy: ThrottlePolicy): number {
  if (failures < policy.freeFailures) return 0;
  return Math.min(policy.baseLockMs * 2 ** (failures - policy.freeFailures), policy.maxLockMs);
}

export class LoginThrottle {
  constructor(private readonly sql: SqlStorage) {}

  /**
   * The keys a password attempt on `email` from `ip` counts under, with the pair's policy as the account stands.
   * Whether the email is under attack is read from its pairs alone, whether or not it has an account: the same
   * rows and the same sum, so neither the answers nor the time taken tell who has an account (an account-wide
   * row did: only real accounts kept one, and it remembered failures its pairs had forgotten).
   */
  passwordKeys(email: string, ip: string | null, now: number): ThrottleKey[] {
    const underAttack = this.pairFailures(email, now) >= ACCOUNT_UNDER_ATTACK_AFTER;
    const pair: ThrottleKey = {
      key: `pair:${email}|${failureSource(ip)}`,
      policy: underAttack ? PAIR_POLICY_UNDER_ATTACK : PAIR_POLICY,
      clearOnSuccess: true,
    };
    return [pair, addressKey(ip)];
  }

  /** Milliseconds until the last of these keys is unlocked; 0 when none is locked. */
  retryAfterMs(keys: ThrottleKey[], now: number): number {
    let wait = 0;
    for (const { key } of keys) {
      const row = this.row(key);
      if (row && row.locked_until > now) wait = Math.max(wait, row.locked_until - now);
    }
    return wait;
  }

  /** Counts an attempt as failed until `succeeded` says otherwise. */
  reserve(keys: ThrottleKey[], now: number): void {
    this.prune(now);
    for (const { key, policy } of keys) {
      const failures = this.failures(key, now) + 1;
      const lockedUntil = now + lockMs(failures, policy);
      this.sql.exec(
        "INSERT INTO login_throttle (key, failures, last_failure_at, locked_until) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
        key,
        failures,
        now,
        lockedUntil,
      );
    }
  }

  /** A successful attempt clears the keys that say so and takes back the failure it reserved on the others. */
  succeeded(keys: ThrottleKey[]): void {
    for (const { key, policy, clearOnSuccess } of keys) {
      if (clearOnSuccess) {
        this.sql.exec("DELETE FROM login_throttle WHERE key = ?", key);
        continue;
      }
      const row = this.row(key);
      if (!row) continue;
      const failures = Math.max(0, row.failures - 1);
      this.sql.exec("UPDATE login_throttle SET failures = ?, locked_until = ? WHERE key = ?", failures, row.last_failure_at + lockMs(failures, policy), key);
    }
  }

  /** Recent failures counted under a key; a quiet day forgets them. */
  private failures(key: string, now: number): number {
    const row = this.row(key);
    return row && now - row.last_failure_at < FORGET_AFTER_MS ? row.failures : 0;
  }

  /** Recent failures of every pair of an email: its keys sort together, between `pair:<email>|` and `pair:<email>}`. */
  private pairFailures(email: string, now: number): number {
    return this.sql
      .exec<{ n: number }>(
        "SELECT COALESCE(SUM(failures), 0) AS n FROM login_throttle WHERE key >= ? AND key < ? AND last_failure_at > ?",
        `pair:${email}|`,
        `pair:${email}}`,
        now - FORGET_AFTER_MS,
      )
      .one().n;
  }

  /** Deletes a few rows whose count is forgotten and whose lock has run out: they no longer change any answer. */
  private prune(now: number): void {
    this.sql.exec(
      "DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle WHERE last_failure_at <= ? AND locked_until <= ? ORDER BY last_failure_at LIMIT ?)",
      now - FORGET_AFTER_MS,
      now,
      PRUNE_PER_RESERVE,
    );
  }

  private row(key: string): Row | undefined {
    return this.sql.exec<Row>("SELECT failures, last_failure_at, locked_until FROM login_throttle WHERE key = ?", key).toArray()[0];
  }
}
