import * as z from "zod";

/** Site and node ids appear in URLs, tokens and socket tags, so they are kept to a small safe alphabet. */
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const SiteId = z
  .string()
  .max(63)
  .regex(SLUG, "site id must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'");
export type SiteId = z.infer<typeof SiteId>;

export const NodeId = z
  .string()
  .max(63)
  .regex(SLUG, "node id must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'");
export type NodeId = z.infer<typeof NodeId>;

export const DEFAULT_SITE = "default";

/** Free text a person typed (names, groups): printable, bounded, trimmed. */
export const Label = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[^\u0000-\u001f\u007f]+$/, "must not contain control characters");
