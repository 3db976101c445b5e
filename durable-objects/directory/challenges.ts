/** A WebAuthn ceremony must finish within this time of asking for its options. */
export const CHALLENGE_TTL_MS = 5 * 60_000;

/** Live challenges kept at most, so that asking for sign-in options in a loop cannot fill the storage. */
const MAX_LIVE_CHALLENGES = 10_000;

export type ChallengeKind = "register" | "login";

/**
 * Challenges handed out for WebAuthn ceremonies. Each is good for one ceremony of its kind (and, for
 * registration, of the user it was issued to) and is deleted when used, so a replayed answer finds nothing.
 */
export class ChallengeStore {
  constructor(private readonly sql: SqlStorage) {}

  /** Records a challenge; false when too many are live already. */
  issue(challenge: string, kind: ChallengeKind, userId: string | null, now: number): boolean {
    this.sql.exec("DELETE FROM challenges WHERE expires_at <= ?", now);
    if (this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM challenges").one().n >= MAX_LIVE_CHALLENGES) return false;
    this.sql.exec(
      "INSERT INTO challenges (challenge, kind, user_id, expires_at) VALUES (?, ?, ?, ?)",
      challenge,
      kind,
      userId,
      now + CHALLENGE_TTL_MS,
    );
    return true;
  }

  /** Deletes the registration challenges issued to a user, when every other way into the account is ended. */
  removeRegistrationsOf(userId: string): void {
    this.sql.exec("DELETE FROM challenges WHERE kind = 'register' AND user_id = ?", userId);
  }

  /** Deletes the challenge and tells whether it was live and issued for this kind of ceremony and user. */
  consume(challenge: string, kind: ChallengeKind, userId: string | null, now: number): boolean {
    const row = this.sql
      .exec<{ kind: string; user_id: string | null; expires_at: number }>(
        "DELETE FROM challenges WHERE challenge = ? RETURNING kind, user_id, expires_at",
        challenge,
      )
      .toArray()[0];
    return !!row && row.kind === kind && row.user_id === userId && row.expires_at > now;
  }
}
