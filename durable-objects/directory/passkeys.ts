import type { PasskeyView } from "../../protocol/accounts.ts";

interface PasskeyRow {
  id: string;
  credential_id: string;
  user_id: string;
  name: string;
  public_key: string;
  counter: number;
  transports: string;
  created_at: number;
  last_used_at: number | null;
  [key: string]: SqlStorageValue;
}

/** What verifying an assertion needs; the public key and credential id are base64url. */
export interface StoredPasskey {
  id: string;
  userId: string;
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
}

function view(r: PasskeyRow): PasskeyView {
  return { id: r.id, name: r.name, createdAt: r.created_at, lastUsedAt: r.last_used_at };
}

function stored(r: PasskeyRow): StoredPasskey {
  return {
    id: r.id,
    userId: r.user_id,
    credentialId: r.credential_id,
    publicKey: r.public_key,
    counter: r.counter,
    transports: JSON.parse(r.transports) as string[],
  };
}

/** WebAuthn credentials registered by each user. */
export class PasskeyStore {
  constructor(private readonly sql: SqlStorage) {}

  add(input: Omit<StoredPasskey, "id"> & { name: string }, now: number): PasskeyView {
    const id = `p-${crypto.randomUUID()}`;
    this.sql.exec(
      "INSERT INTO passkeys (id, credential_id, user_id, name, public_key, counter, transports, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      id,
      input.credentialId,
      input.userId,
      input.name,
      input.publicKey,
      input.counter,
      JSON.stringify(input.transports),
      now,
    );
    return this.list(input.userId).find((p) => p.id === id)!;
  }

  list(userId: string): PasskeyView[] {
    return this.sql.exec<PasskeyRow>("SELECT * FROM passkeys WHERE user_id = ? ORDER BY created_at", userId).toArray().map(view);
  }

  ofUser(userId: string): StoredPasskey[] {
    return this.sql.exec<PasskeyRow>("SELECT * FROM passkeys WHERE user_id = ?", userId).toArray().map(stored);
  }

  byCredentialId(credentialId: string): StoredPasskey | null {
    const row = this.sql.exec<PasskeyRow>("SELECT * FROM passkeys WHERE credential_id = ?", credentialId).toArray()[0];
    return row ? stored(row) : null;
  }

  byId(id: string): StoredPasskey | null {
    const row = this.sql.exec<PasskeyRow>("SELECT * FROM passkeys WHERE id = ?", id).toArray()[0];
    return row ? stored(row) : null;
  }

  exists(credentialId: string): boolean {
    return this.sql.exec("SELECT 1 FROM passkeys WHERE credential_id = ?", credentialId).toArray().length > 0;
  }

  remove(userId: string, id: string): PasskeyView | null {
    const row = this.sql.exec<PasskeyRow>("DELETE FROM passkeys WHERE id = ? AND user_id = ? RETURNING *", id, userId).toArray()[0];
    return row ? view(row) : null;
  }

  removeAllOf(userId: string): PasskeyView[] {
    return this.sql.exec<PasskeyRow>("DELETE FROM passkeys WHERE user_id = ? RETURNING *", userId).toArray().map(view);
  }

  used(id: string, counter: number, now: number): void {
    this.sql.exec("UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ?", counter, now, id);
  }
}
