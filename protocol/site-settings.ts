import * as z from "zod";
import { ADMIN_ONLY_SETTINGS, AUTONOMY_SETTING_FIELDS, DEFAULT_AUTONOMY_SETTINGS } from "./autonomy.ts";
import { DEFAULT_CHAT_STEP_LIMIT, MAX_CHAT_STEP_LIMIT } from "./chat-constants.ts";
import { normalizePath } from "./paths.ts";
import { SANDBOX_PATH } from "./tier-policy.ts";

/**
 * A site's settings, kept by its SiteHub and changed by its admins (`PATCH /api/sites/:site/settings`). Every member
 * may read them, so a field that holds a secret (an LLM key) never belongs here in the clear: store it encrypted
 * elsewhere and add a field that only says whether it is set. A field that may carry a token (the escalation webhook
 * URL) is shown in full to site admins only (`ADMIN_ONLY_SETTINGS`).
 */

/** In `readablePaths`, the word that stands for each node's own sandbox folder (kept with the tier policy). */
export { SANDBOX_PATH };

/** A folder given by an admin: absolute, without `.` or `..` steps (which would read as one path and mean another). */
const ReadableFolder = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith("/"), "must be an absolute path or the word 'sandbox'")
  .refine((p) => !p.includes("\u0000"), "must not contain NUL")
  .refine((p) => !p.split("/").some((part) => part === "." || part === ".."), "must not contain '.' or '..' steps")
  .transform((p) => normalizePath(p));

export const ReadablePath = z.union([z.literal(SANDBOX_PATH), ReadableFolder]);
export type ReadablePath = z.infer<typeof ReadablePath>;

/** Each setting's schema. A new setting is one more field here and one more default below. */
const SETTING_FIELDS = {
  /**
   * Where callers capped at risk tier 1 (members, read and chat API keys) may read, find and search. Elsewhere a
   * site admin is needed. The hub refuses other paths early and the agent enforces the list on what it opens.
   */
  readablePaths: z
    .array(ReadablePath)
    .max(32)
    .transform((paths) => [...new Set(paths)]),
  /** Model calls the AI chat makes for one message before it pauses and offers to continue. */
  chatStepLimit: z.number().int().min(1).max(MAX_CHAT_STEP_LIMIT),
  /** Autonomous investigations and escalation (protocol/autonomy.ts). */
  ...AUTONOMY_SETTING_FIELDS,
};

export const SiteSettings = z.object(SETTING_FIELDS);
export type SiteSettings = z.infer<typeof SiteSettings>;
export type SiteSettingName = keyof SiteSettings;

export const DEFAULT_SITE_SETTINGS: SiteSettings = {
  readablePaths: [SANDBOX_PATH, "/var/log"],
  chatStepLimit: DEFAULT_CHAT_STEP_LIMIT,
  ...DEFAULT_AUTONOMY_SETTINGS,
};

/** A change: any subset of the settings; an unknown name is refused rather than ignored. */
export const SiteSettingsPatch = z
  .object(SETTING_FIELDS)
  .partial()
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, "name at least one setting to change");
export type SiteSettingsPatch = z.infer<typeof SiteSettingsPatch>;

/** The schema of one setting, to check a stored value on the way out. */
export function settingSchema(name: SiteSettingName): z.ZodType<SiteSettings[SiteSettingName]> {
  return SETTING_FIELDS[name];
}

export function isSettingName(name: string): name is SiteSettingName {
  return Object.hasOwn(SETTING_FIELDS, name);
}

/**
 * The answer of `GET` and `PATCH /api/sites/:site/settings`. `redacted` names the settings shown in part because the
 * reader is not a site admin.
 */
export const SiteSettingsResponse = z.object({
  settings: SiteSettings,
  redacted: z.array(z.enum(ADMIN_ONLY_SETTINGS)).default([]),
});
export type SiteSettingsResponse = z.infer<typeof SiteSettingsResponse>;
