/**
 * The redactor: every text the hub shows to a model or to someone who did not write it (tool output, another
 * person's directive parameters) passes through here first. It removes what would let the reader act as someone
 * else: private keys, cloud and provider access keys, bearer tokens, credentials in URLs, passwords in
 * `KEY=value` lines, and our own node, session, invite and API tokens. It errs on the side of hiding: a false
 * positive costs a reader a few characters, a false negative can cost the site.
 *
 * The text is untrusted and JavaScript's regular expressions backtrack, so every pattern here stays linear: no
 * quantifier over characters that the next quantifier could also take, names matched only where their run of name
 * characters starts, and values whose end (a closing quote) is optional, so a match never fails after a long scan.
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
  /** What the secret becomes when not simply the mark: a Cookie header keeps its cookies' names. */
  hide?: (secret: string, mark: string) => string;
}

/** A character of a setting's or option's name; a name is a whole run of them. */
const NAME_CHAR = "[A-Za-z0-9_.-]";

/**
 * Names of settings whose value is a secret, in `KEY=value`, `key: value` and JSON `"key": "value"` forms: any name
 * containing a secret word (`auth`, but not `author`), any name that ends in `key` (`CORTEX_ADMIN_KEY`,
 * `signing_key`, `encryptionKey`), and the short password names of .env files and containers (`pass`, `DB_PASS`,
 * `MYSQL_PWD`; not `bypass` or the shell's `PWD`).
 */
const SECRET_NAME = String.raw`(?:${NAME_CHAR}*(?:passw(?:or)?d|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|key[_-]?data|credentials?|auth(?!or(?!i[sz]))|setup[_-]?code)${NAME_CHAR}*|${NAME_CHAR}*key|(?:${NAME_CHAR}*[_.-])?pass|${NAME_CHAR}*[_.-]pwd)`;

/** The Authorization headers, whose values have rules of their own that keep the scheme's name. */
const AUTH_NAME = `(?<!${NAME_CHAR})(?:proxy-)?authorization`;

/**
 * A secret setting's name, tried only where a run of name characters starts and taken whole, so it stays linear; not
 * in a path or URL (`https://x-access-token:…@github.com` is the URL rule's).
 */
const SETTING_NAME = String.raw`(?<![A-Za-z0-9_./-])(?!${AUTH_NAME}["']?[ \t]*[:=])(?=${SECRET_NAME}(?!${NAME_CHAR}))${NAME_CHAR}+`;

/** A double-quoted string, backslash escapes honoured; one left open runs to the end of the line. */
const DQ = String.raw`"(?:[^"\\\r\n]|\\.)*"?`;

/** A single-quoted string (shells and YAML have no escapes in them); one left open runs to the end of the line. */
const SQ = String.raw`'[^'\r\n]*'?`;

/** An unquoted value to the end of its line, or to a `\n` escaped in the JSON string that holds the line. */
const REST = String.raw`(?:[^\s"'\\]|\\[^nr\s])(?:[^\\\r\n]|\\[^nr\r\n])*`;

/** An Authorization scheme's name and the space after it: `Digest `, `AWS4-HMAC-SHA256 `. */
const SCHEME = String.raw`[A-Za-z][\w.-]*[ \t]+`;

/** Not a value that is nothing but a mark an earlier rule left; a value with more in it is hidden again whole. */
const NOT_MARK = String.raw`(?!\[REDACTED:[^\]\r\n]*\][ \t]*(?:["'\r\n]|$))`;

/** `key: value` and `key = value`, with spaces around `=` (ini, conf); a shell's tight `KEY=value` is not one. */
const SPACED = String.raw`(?:[ \t]*:|[ \t]+=|=(?=[ \t]))[ \t]*`;

/**
 * The rules for a `name: value` pair, one for each shape it takes, each ending the value where that shape does: a
 * quoted value (JSON, TOML, `KEY="x"`) at its closing quote; a pair inside a quoted string (`curl -H "X-Api-Key: x"
 * url`) at that string's end; a bare pair (YAML, ini, a header line) at the end of the line. `lead` comes between
 * the separator and the secret, and its groups are kept.
 */
function pairRules(kind: string, name: string, separator: string, lead: string): Rule[] {
  const group = groupCount(new RegExp(lead)) + 2;
  const rule = (pattern: string): Rule => ({ kind, pattern: new RegExp(pattern, "gi"), group });
  return [
    rule(String.raw`(${name}["']?[ \t]*[:=][ \t]*")${lead}((?:[^"\\\r\n]|\\.)+)`),
    rule(String.raw`(${name}["']?[ \t]*[:=][ \t]*')${lead}([^'\r\n]+)`),
    rule(String.raw`("${name}${separator})(?![ \t])${lead}((?:[^"\\\r\n]|\\[^nr\r\n])+)`),
    rule(String.raw`('${name}${separator})(?![ \t])${lead}([^'\r\n]+)`),
    rule(String.raw`(${name}${separator})(?![ \t])${lead}(${REST})`),
  ];
}

/** Whether base64 text decodes to a PEM private key: its BEGIN line names one. */
function isBase64PrivateKey(blob: string): boolean {
  const head = blob.slice(0, 120).replace(/[\s=]/g, "").slice(0, 80);
  return /^-----BEGIN [A-Z0-9 ]*PRIVATE KEY/.test(atob(head.slice(0, head.length - (head.length % 4))));
}

/** Where a command's own option is looked for: up to the first such option, on its line, before a `;` or `|`. */
function commandOption(command: string, option: string): string {
  return String.raw`\b${command}(?![\w-])(?:[^\r\n;| \t]|[ \t](?!${option})){0,300}?[ \t]${option}`;
}

/** The value of a command-line option: a quoted string or one word. */
const OPTION_VALUE = String.raw`(?!\[REDACTED)(${DQ}|${SQ}|[^\s"']+)`;

/** A word in a long option's name that makes its value a secret: `--db-password`, `--client-secret`, `--pass`. */
const OPTION_SECRET = String.raw`(?:passw(?:or)?d|passphrase|secret|token|credential|api-?key|access-?key|private-?key|-(?:pass|pwd|auth)(?![A-Za-z0-9]))`;

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
  {
    kind: "private key",
    // A PEM key in base64 (`LS0tLS1CRUdJTi` is "-----BEGIN"): a kubeconfig's client-key-data, a Secret's tls.key, or
    // `base64` output wrapped over lines. Certificates, encoded alike, are left.
    pattern: /\bLS0tLS1CRUdJTi[A-Za-z0-9+/]+(?:\r?\n[A-Za-z0-9+/]+)*={0,2}/g,
    hide: (blob, mark) => (isBase64PrivateKey(blob) ? mark : blob),
  },
  {
    kind: "url credentials",
    // The user may be empty (`redis://:pw@host`) and the password may hold an @: it ends at the authority's last @.
    // Before the token rules, whose marks hold spaces.
    pattern: /\b([a-z][a-z0-9+.-]{0,31}:\/\/[^\s:/@]*:)([^\s/?#]*)(@)/gi,
    group: 2,
  },
  { kind: "cortex token", pattern: /\bcx(?:[nksia]|_admin)_[A-Za-z0-9_-]{16,}/g },
  { kind: "aws access key", pattern: /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/g },
  { kind: "provider key", pattern: /\b(?:sk-(?:ant-|proj-|live-)?[A-Za-z0-9_-]{20,}|sk_(?:live|test)_[A-Za-z0-9]{16,}|rk_(?:live|test)_[A-Za-z0-9]{16,})/g },
  { kind: "github token", pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/g },
  // GitLab's personal, deploy, runner, trigger, feed, CI job, OAuth, SCIM, mail and agent tokens.
  { kind: "gitlab token", pattern: /\bgl(?:pat|dt|rt|ptt|ft|cbt|oas|soat|imt|agent)-[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_.-]+)?/g },
  { kind: "npm token", pattern: /\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9])/g },
  // HashiCorp Vault's service, batch and recovery tokens.
  { kind: "vault token", pattern: /\bhv[sbr]\.[A-Za-z0-9_-]{24,}/g },
  { kind: "digitalocean token", pattern: /\bdo[opr]_v1_[a-f0-9]{64}\b/g },
  { kind: "sendgrid key", pattern: /\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g },
  { kind: "hugging face token", pattern: /\bhf_[A-Za-z0-9]{30,}/g },
  { kind: "pypi token", pattern: /\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}/g },
  { kind: "slack token", pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  { kind: "google key", pattern: /\bAIza[0-9A-Za-z_-]{35}\b/g },
  { kind: "jwt", pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  { kind: "bearer token", pattern: /\b(Bearer|Basic)(\s+)([A-Za-z0-9._~+/=-]{12,})/gi, group: 3 },
  // Authorization and Proxy-Authorization, whatever the scheme (Digest, Negotiate, AWS4-HMAC-SHA256, ApiKey, SSWS):
  // all the header says after the scheme's name is the credential.
  ...pairRules("authorization", AUTH_NAME, String.raw`[ \t]*[:=][ \t]*`, String.raw`(?!(?:${SCHEME})?\[REDACTED)((?:${SCHEME})?)`),
  {
    kind: "cookie",
    // A Cookie header (or curl's --cookie) is a list of name=value pairs, every value a secret.
    pattern: /((?<![\w-])cookie["']?[ \t]*:[ \t]*["']?|(?<![\w-])--cookie(?:=|[ \t]+)["']?)([^\r\n"']+)/gi,
    group: 2,
    hide: (cookies, mark) => cookies.replace(/=[^;\s]*/g, `=${mark}`),
  },
  {
    kind: "cookie",
    // Set-Cookie sets one cookie; what follows its value (Path, HttpOnly, Expires) are attributes.
    pattern: /((?<![\w-])set-cookie["']?[ \t]*:[ \t]*["']?[^=;\s"']*=)(?!\[REDACTED)([^;\s"']+)/gi,
    group: 2,
  },
  {
    kind: "url signature",
    // Signed URLs carry their credential in the query: Azure SAS `sig=`, S3 and GCS presigned signatures and tokens.
    pattern: /([?&](?:sig|signature|x-amz-signature|x-amz-security-token|x-goog-signature)=)(?!\[REDACTED)([^&#\s"']+)/gi,
    group: 2,
  },
  {
    kind: "secret option",
    // Long options naming a secret (`--password hunter2`, `--db-password=x`, `--vault-token t`), as they show in
    // shell history and ps. Options naming where the secret is (`--password-file`), flags (`--password-stdin`,
    // `--no-password`, `--ask-vault-pass`) are not followed by one.
    pattern: new RegExp(String.raw`((?<![\w-])(?=-[\w-]*?${OPTION_SECRET})(?![\w-]*-(?:file|path|dir|stdin)(?![\w-]))--(?!no-|ask-)[\w-]+(?:=|\s+))${OPTION_VALUE}`, "gi"),
    group: 2,
  },
  {
    kind: "secret option",
    // The MySQL tools take the password attached to -p (`-pS3cret`; `-p db` prompts, and db is the database).
    pattern: new RegExp(String.raw`(${commandOption("(?:mysql|mariadb)[\\w-]*", "-p")})${OPTION_VALUE}`, "g"),
    group: 2,
  },
  {
    kind: "secret option",
    // `sshpass -p pw` and `docker login -p pw` take it attached or as the next word.
    pattern: new RegExp(String.raw`(${commandOption("(?:sshpass|(?:docker|podman|nerdctl)[ \\t]+login)", "-p")}[ \t]*)${OPTION_VALUE}`, "g"),
    group: 2,
  },
  {
    kind: "secret option",
    // curl's `-u user:password` (and the proxy's -U): the password after the first colon.
    pattern: new RegExp(String.raw`(${commandOption("curl", "(?:-[uU]|--(?:proxy-)?user(?![\\w-]))")}(?:=|[ \t]*)["']?[^\s:"']*:)${OPTION_VALUE}`, "g"),
    group: 2,
  },
  {
    kind: "password",
    // A .netrc's `machine host login me password s3cret`, on one line or over several; only a line made of .netrc
    // words, so prose ("password reset for alice") is left.
    pattern: /((?:^[ \t]*|(?<![\w-])(?:machine[ \t]+\S+|default)[ \t]+)(?:(?:login|account|port)[ \t]+\S+[ \t]+)*password[ \t]+)(?!\[REDACTED)([^\s"']+)(?=[ \t]*(?:\r?$|["']|(?:machine|login|account|port|default|macdef)[ \t]))/gm,
    group: 2,
  },
  {
    kind: "secret setting",
    // A YAML block scalar (`password: |`, `private_key: >-`): the value is the lines after it indented deeper than
    // the key, blank lines among them.
    pattern: new RegExp(String.raw`^([ \t]*)((?:-[ \t]+)?${SETTING_NAME}[ \t]*:[ \t]*)([|>][-+1-9]{0,2}[ \t]*(?:#[^\r\n]*)?(?:\r?\n(?:\1[ \t]+\S[^\r\n]*|[ \t]*(?=\r?\n)))+)`, "gim"),
    group: 3,
  },
  // Settings, values to the end of the line or of their quotes (`password = correct horse battery staple`).
  ...pairRules("secret setting", SETTING_NAME, SPACED, NOT_MARK),
  {
    kind: "secret setting",
    // A shell's `KEY=value` is one word (what follows is the command); so is an unquoted JSON value (`"pin": 1234`).
    pattern: new RegExp(String.raw`(${SETTING_NAME}(?:["'][ \t]*[:=][ \t]*|=))(?!\[REDACTED)([^\s"',;}{]+)`, "gi"),
    group: 2,
  },
];

/** How many capture groups a pattern has: matching the empty alternative yields one slot per group. */
function groupCount(pattern: RegExp): number {
  return new RegExp(`${pattern.source}|`).exec("")!.length - 1;
}

const COMPILED = RULES.map((rule) => ({ ...rule, groups: groupCount(rule.pattern) }));

/** What a secret becomes: the rule's own hiding, or the mark (inside the quotes when the secret is quoted whole). */
function hidden(rule: Rule, secret: string): string {
  const mark = redactedMark(rule.kind);
  if (rule.hide) return rule.hide(secret, mark);
  return secret.length >= 2 && /^(["']).*\1$/s.test(secret) ? `${secret[0]}${mark}${secret[0]}` : mark;
}

/** `text` with every secret it recognises replaced by a `[REDACTED:<kind>]` mark. */
export function redactText(text: string): string {
  let out = text;
  for (const rule of COMPILED) {
    out = out.replace(rule.pattern, (match: string, ...rest: unknown[]) => {
      if (rule.group === undefined) return hidden(rule, match);
      // The match rebuilt from its groups (which, in every rule, cover it whole) with only the secret replaced.
      const groups = rest.slice(0, rule.groups) as (string | undefined)[];
      const index = rule.group - 1;
      const secret = groups[index];
      if (!secret) return match;
      return groups.map((g, i) => (i === index ? hidden(rule, secret) : (g ?? ""))).join("");
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
