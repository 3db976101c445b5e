import {
  DEFAULT_SITE_SETTINGS,
  isSettingName,
  settingSchema,
  type SiteSettingName,
  type SiteSettings,
  type SiteSettingsPatch,
} from "../../protocol/site-settings.ts";

/** One setting that a change actually changed. */
export interface SettingChange {
  name: SiteSettingName;
  from: unknown;
  to: unknown;
}

/**
 * The `site_settings` table: one row per setting an admin has set; a setting without a row has its default. A
 * stored value that no longer fits its schema (a setting whose rules tightened) reads as the default rather than
 * breaking every read of the site's settings.
 */
export class SiteSettingsStore {
  constructor(private readonly sql: SqlStorage) {}

  get(): SiteSettings {
    const settings: SiteSettings = structuredClone(DEFAULT_SITE_SETTINGS);
    for (const row of this.sql.exec<{ name: string; value: string }>("SELECT name, value FROM site_settings")) {
      if (!isSettingName(row.name)) continue;
      const parsed = settingSchema(row.name).safeParse(JSON.parse(row.value));
      if (parsed.success) Object.assign(settings, { [row.name]: parsed.data });
      else console.warn(`site setting ${row.name} no longer fits its schema; using the default`);
    }
    return settings;
  }

  /** Applies a validated change and returns what it changed (nothing when every value was already so). */
  update(patch: SiteSettingsPatch, actor: string, now: number): SettingChange[] {
    const before = this.get();
    const changes: SettingChange[] = [];
    for (const name of Object.keys(patch) as SiteSettingName[]) {
      const to = patch[name];
      if (to === undefined || JSON.stringify(to) === JSON.stringify(before[name])) continue;
      this.sql.exec(
        "INSERT INTO site_settings (name, value, updated_at, updated_by) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        name,
        JSON.stringify(to),
        now,
        actor,
      );
      changes.push({ name, from: before[name], to });
    }
    return changes;
  }
}
