/**
 * Slows down password and passkey guessing. Every attempt counts as a failure when it starts (so parallel guesses
 * cannot slip in before the first one is judged) and is taken back if it succeeds. Past a number of free failures
 * a key is locked for a window that doubles with each further failure; a quiet day forgets the count.
 */
export interface ThrottlePolicy {
  freeFailures: number;
  baseLockMs: number;
  maxLockMs: number;
}

export const ACCOUNT_POLICY: ThrottlePolicy = { freeFailures: 5, baseLockMs: 30_000, maxLockMs: 60 * 60_000 };
/** Addresses get more room: an office behind one NAT shares one. */
export const ADDRESS_POLICY: ThrottlePolicy = { freeFailures: 20, baseLockMs: 30_000, maxLockMs: 60 * 60_000 };
const FORGET_AFTER_MS = 24 * 3600_000;

export interface ThrottleKey {
  key: string;
  policy: ThrottlePolicy;
}

export function accountKey(email: string): ThrottleKey {
  return { key: `account:${email}`, policy: ACCOUNT_POLICY };
}

export function addressKey(ip: string | null): ThrottleKey {
  return { key: `ip:${ip ?? "unknown"}`, policy: ADDRESS_POLICY };
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

  /** Milliseconds until the first of these keys is unlocked; 0 when none is locked. */
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
    for (const { key, policy } of keys) {
      const row = this.row(key);
      const failures = (row && now - row.last_failure_at < FORGET_AFTER_MS ? row.failures : 0) + 1;
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

  /** A successful attempt clears the account's count and takes back the address's reserved failure. */
  succeeded(account: ThrottleKey | null, address: ThrottleKey): void {
    if (account) this.sql.exec("DELETE FROM login_throttle WHERE key = ?", account.key);
    const row = this.row(address.key);
    if (!row) return;
    const failures = Math.max(0, row.failures - 1);
    this.sql.exec("UPDATE login_throttle SET failures = ?, locked_until = ? WHERE key = ?", failures, row.last_failure_at + lockMs(failures, address.policy), address.key);
  }

  private row(key: string): Row | undefined {
    return this.sql.exec<Row>("SELECT failures, last_failure_at, locked_until FROM login_throttle WHERE key = ?", key).toArray()[0];
  }
}
