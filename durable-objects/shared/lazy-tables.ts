/**
 * An object's SQL storage whose tables are created on first use. Anyone may address an object by a name it makes
 * up (an agent's socket, a roost download or an Alertmanager post name their site before anything is checked; a
 * member may name any conversation id), and on Cloudflare an object that never writes is never stored. So an
 * object whose storage is empty writes nothing until something touches its tables: a call that creates what the
 * object holds, or one only an authorised request on an existing thing can reach. Entry points open to made-up
 * names ask `blank` first and answer as for a thing that does not exist, without a query.
 */
export class LazyTables {
  readonly sql: SqlStorage;
  /** The schema version the storage was at when the object woke: 0 when it was blank. */
  readonly versionAtWake: number = 0;
  private created = false;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly migrate: (sql: SqlStorage) => number,
  ) {
    const raw = storage.sql;
    if (hasTables(raw)) {
      this.versionAtWake = storage.transactionSync(() => migrate(raw));
      this.created = true;
    }
    const ensure = () => this.ensure();
    this.sql = {
      exec(query, ...bindings) {
        ensure();
        return raw.exec(query, ...bindings);
      },
      get databaseSize() {
        return raw.databaseSize;
      },
      Cursor: raw.Cursor,
      Statement: raw.Statement,
    };
  }

  /** True while nothing has been stored: nothing was ever created under this object's name. */
  get blank(): boolean {
    return !this.created;
  }

  /**
   * A transaction whose writes may be the object's first: the tables are made before it opens, so a rollback cannot
   * take them away while this object goes on believing they exist.
   */
  transaction<T>(fn: () => T): T {
    this.ensure();
    return this.storage.transactionSync(fn);
  }

  /** After `deleteAll`: the object is blank again, and stays unstored until something is created in it. */
  forget(): void {
    this.created = false;
  }

  private ensure(): void {
    if (this.created) return;
    this.storage.transactionSync(() => this.migrate(this.storage.sql));
    this.created = true;
  }
}

function hasTables(sql: SqlStorage): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").toArray().length > 0;
}
