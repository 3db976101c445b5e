import type { UserView } from "../../protocol/accounts.ts";

interface UserRow {
  id: string;
  email: string;
  name: string;
  superadmin: number;
  password_hash: string | null;
  created_at: number;
  [key: string]: SqlStorageValue;
}

export interface UserRecord {
  view: UserView;
  passwordHash: string | null;
}

function record(r: UserRow): UserRecord {
  return {
    view: { id: r.id, email: r.email, name: r.name, superadmin: r.superadmin === 1, createdAt: r.created_at },
    passwordHash: r.password_hash,
  };
}

/** People who can sign in. Emails are stored normalised (trimmed, lower case) by the protocol schemas. */
export class UserStore {
  constructor(private readonly sql: SqlStorage) {}

  count(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM users").one().n;
  }

  byId(id: string): UserRecord | null {
    const row = this.sql.exec<UserRow>("SELECT * FROM users WHERE id = ?", id).toArray()[0];
    return row ? record(row) : null;
  }

  byEmail(email: string): UserRecord | null {
    const row = this.sql.exec<UserRow>("SELECT * FROM users WHERE email = ?", email).toArray()[0];
    return row ? record(row) : null;
  }

  create(input: { email: string; name: string; passwordHash: string | null; superadmin: boolean }, now: number): UserView {
    const id = `u-${crypto.randomUUID()}`;
    this.sql.exec(
      "INSERT INTO users (id, email, name, superadmin, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      id,
      input.email,
      input.name,
      input.superadmin ? 1 : 0,
      input.passwordHash,
      now,
    );
    return this.byId(id)!.view;
  }

  /** The user's single sign-on identity is in its credential shard now. */
  markMoved(id: string): void {
    this.sql.exec("UPDATE users SET moved = 1 WHERE id = ?", id);
  }

  /** Everyone with access to every site. */
  superadmins(): UserView[] {
    return this.sql.exec<UserRow>("SELECT * FROM users WHERE superadmin = 1 ORDER BY created_at, email").toArray().map((r) => record(r).view);
  }

  setPassword(id: string, passwordHash: string): void {
    this.sql.exec("UPDATE users SET password_hash = ? WHERE id = ?", passwordHash, id);
  }
}
