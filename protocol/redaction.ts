/**
 * The redactor: every text the hub shows to a model or to someone who did not write it (tool output, another
 * person's directive parameters) passes through here first. It removes what would let the reader act as someone
 * else: private keys, cloud and provider access keys, bearer tokens, credentials in URLs, passwords in
 * `KEY=value` lines, and our own node, session, invite and API tokens. It errs on the side of hiding: a false
 * positive costs a reader a few characters, a false negative can cost the site.
 */

/** What stands in for a secret: says that something was removed and what kind, never any of its characters. */
export function redactedMark(kind: string): string {
  return `[REDACTED:${kind}]`;
}

interface Rule {
  kind: string;
  pattern: RegExp;
  /** Which capture group holds the secret; the rest of the match is kept for context. Whole match when absent. */
  group?: number;
}

/**
 * Names of settings whose value is a secret, in `KEY=value`, `key: value` and JSON `"key": "value"` forms: any name
 * containing a secret word, any name that ends in `key` (`CORTEX_ADMIN_KEY`, `signing_key`, `encryptionKey`), and
 * the short password names of .env files and containers (`pass`, `DB_PASS`, `MYSQL_PWD`; not `bypass` or the
 * shell's `PWD`).
 */
const SECRET_NAME = String.raw`(?:[A-Za-z0-9_.-]*(?:passw(?:or)?d|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|auth|setup[_-]?code)[A-Za-z0-9_.-]*|[A-Za-z0-9_.-]*key|(?:[A-Za-z0-9_.-]*[_.-])?pass|[A-Za-z0-9_.-]*[_.-]pwd)`;

/** Authorization schemes whose next word is the credential: `Authorization: Token 9944b…` hides the token. */
const AUTH_SCHEME = "(?:Bearer|Basic|Token)";

const RULES: readonly Rule[] = [
  {
    kind: "private key",
    pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)/g,
  },
  {
    kind: "private key",
    // An END line left after the rule above had no BEGIN: the text starts inside a key (a log's tail, a file read
    // from an offset), so everything up to that line is the key's body.
    pattern: /^[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/g,
  },
  { kind: "cortex token", pattern: /\bcx(?:[nksia]|_admin)_[A-Za-z0-9_-]{16,}/g },
  { kind: "aws access key", pattern: /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/g },
  { kind: "provider key", pattern: /\b(?:sk-(?:ant-|proj-|live-)?[A-Za-z0-9_-]{20,}|sk_(?:live|test)_[A-Za-z0-9]{16,}|rk_(?:live|test)_[A-Za-z0-9]{16,})/g },
  { kind: "github token", pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/g },
  { kind: "slack token", pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  { kind: "google key", pattern: /\bAIza[0-9A-Za-z_-]{35}\b/g },
  { kind: "jwt", pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  { kind: "bearer token", pattern: /\b(Bearer|Basic)(\s+)([A-Za-z0-9._~+/=-]{12,})/gi, group: 3 },
  { kind: "url credentials", pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s@/]+)(@)/gi, group: 2 },
  {
    kind: "secret option",
    // Command-line options such as `--password hunter2` or `--api-key=...`, as they show in shell history and ps.
    pattern: /(--(?:password|passwd|pass|passphrase|token|secret|api-?key|access-?key|auth-?token)(?:=|\s+))((?!\[REDACTED)[^\s"']+|"[^"\n]*"|'[^'\n]*')/gi,
    group: 2,
  },
  {
    kind: "secret setting",
    // KEY=value, KEY: value, "key": "value", with optional quotes; the value ends at the line or the closing quote.
    // A value already redacted by an earlier rule ("Authorization: Bearer [REDACTED:...]") is left as it is.
    pattern: new RegExp(String.raw`(["']?\b${SECRET_NAME}["']?\s*[:=]\s*)(?!${AUTH_SCHEME}\s+\[REDACTED)(?!\[REDACTED)((?:${AUTH_SCHEME}\s+)?(?:"[^"\n]*"|'[^'\n]*'|[^\s"',;}{]+))`, "gi"),
    group: 2,
  },
];

/** How many capture groups a pattern has: matching the empty alternative yields one slot per group. */
function groupCount(pattern: RegExp): number {
  return new RegExp(`${pattern.source}|`).exec("")!.length - 1;
}

const COMPILED = RULES.map((rule) => ({ ...rule, groups: groupCount(rule.pattern) }));

/** The match rebuilt from its groups (which, in every rule, cover it whole) with only the secret group replaced. */
function redactGroup(match: string, groups: (string | undefined)[], group: number, kind: string): string {
  const secret = groups[group - 1];
  if (!secret) return match;
  const quoted = secret.length >= 2 && /^(["']).*\1$/s.test(secret);
  const replacement = quoted ? `${secret[0]}${redactedMark(kind)}${secret[0]}` : redactedMark(kind);
  return groups.map((g, i) => (i === group - 1 ? replacement : (g ?? ""))).join("");
}

/** `text` with every secret it recognises replaced by a `[REDACTED:<kind>]` mark. */
export function redactText(text: string): string {
  let out = text;
  for (const rule of COMPILED) {
    out = out.replace(rule.pattern, (match: string, ...rest: unknown[]) => {
      if (rule.group === undefined) return redactedMark(rule.kind);
      return redactGroup(match, rest.slice(0, rule.groups) as (string | undefined)[], rule.group, rule.kind);
    });
  }
  return out;
}

const SECRET_KEY = new RegExp(`^${SECRET_NAME}$`, "i");

/** Whether a setting, field or option of this name holds a secret (`password`, `api_key`, `X-Auth-Token`, ...). */
export function isSecretName(name: string): boolean {
  return SECRET_KEY.test(name);
}

/**
 * A JSON-like value with secrets removed: every string is redacted as text, and the value of any property whose
 * name says it holds a secret is replaced whole, whatever its type.
 */
export function redactValue(value: unknown): unknown {
  if (typeof value === "string") return redactText(value);
  if (Array.isArray(value)) return value.map(redactValue);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) && v !== null && v !== "" ? redactedMark("secret setting") : redactValue(v)]));
  }
  return value;
}
