import { basename } from "node:path";
import { isSecretName, redactedMark, redactText } from "../../protocol/redaction.ts";
import { clip } from "./compact-output.ts";

/**
 * A process's command line as a model may see it. Command lines are world-readable on Linux, and people pass
 * secrets in them: option values named like secrets, `-pPASSWORD` for the MySQL tools, long random strings. The
 * agent masks those before the text leaves the machine; the hub's redactor passes over it again.
 */

const MAX_ARG_CHARS = 200;
const MAX_LINE_CHARS = 500;

/** Tools whose `-p` option takes a password, attached (`-psecret`) or as the next argument. */
const PASSWORD_P_PROGRAMS = new Set(["mysql", "mariadb", "mysqldump", "mariadb-dump", "mysqladmin", "mariadb-admin", "sshpass"]);

/** A long run of token characters with letters and digits and no dot: a key, a hash, a session id. */
function looksOpaque(value: string): boolean {
  return (
    value.length >= 24 &&
    /^[A-Za-z0-9+/_=-]+$/.test(value) &&
    !value.startsWith("/") &&
    /[0-9]/.test(value) &&
    /[A-Za-z]/.test(value) &&
    new Set(value).size >= 10
  );
}

const MASK = redactedMark("secret argument");

/** `--name`, `-name` or `/name` (an option naming a secret), without its dashes. */
function optionName(arg: string): string | null {
  const match = /^(?:--?|\/)([A-Za-z][A-Za-z0-9_.-]*)$/.exec(arg);
  return match ? match[1]! : null;
}

function maskArgument(arg: string): string {
  const assignment = /^(-{0,2}[A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/s.exec(arg);
  if (assignment) {
    const [, name, value] = assignment as unknown as [string, string, string];
    if (isSecretName(name.replace(/^-+/, "")) || looksOpaque(value)) return `${name}=${MASK}`;
    return arg;
  }
  return looksOpaque(arg) ? MASK : arg;
}

export function sanitizeCommandLine(argv: readonly string[]): string {
  if (argv.length === 0) return "";
  const program = basename(argv[0]!);
  const passwordP = PASSWORD_P_PROGRAMS.has(program);
  const shown: string[] = [clip(argv[0]!, MAX_ARG_CHARS)];
  let maskNext = false;
  for (const arg of argv.slice(1)) {
    if (maskNext) {
      shown.push(MASK);
      maskNext = false;
      continue;
    }
    const option = optionName(arg);
    if ((option && isSecretName(option)) || (passwordP && arg === "-p")) {
      shown.push(arg);
      maskNext = true;
      continue;
    }
    if (passwordP && /^-p./.test(arg)) {
      shown.push(`-p${MASK}`);
      continue;
    }
    shown.push(clip(maskArgument(arg), MAX_ARG_CHARS));
  }
  return clip(redactText(shown.join(" ")), MAX_LINE_CHARS);
}
