/** Settings in sections, each at its own address (/settings/<section>), so each can be linked and bookmarked. */
export const SETTINGS_SECTIONS = [
  { key: "account", title: "Account" },
  { key: "keys", title: "API keys" },
  { key: "site", title: "Site" },
  { key: "members", title: "Members" },
] as const;
export type SettingsSection = (typeof SETTINGS_SECTIONS)[number]["key"];
