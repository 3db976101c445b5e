/**
 * Characters that change how text looks without being seen. A person approving a tier-3 call reads its exact
 * parameters, so these must not be able to make a command look like another: a bidirectional override reorders what
 * follows it (`rm -rf /‮ pmt/` can read as something harmless), a carriage return or an escape sequence rewrites a
 * terminal's line, and zero-width characters, unusual spaces and the fillers that render blank hide text in plain
 * sight. Showing them (never dropping them) keeps what is approved what runs.
 */

/** C0 controls other than tab and newline, DEL, and the C1 controls (some terminals act on U+009B as an escape). */
const CONTROLS = String.raw`\u0000-\u0008\u000b-\u001f\u007f-\u009f`;

/**
 * Controls; format characters (bidirectional marks, embeddings, overrides and isolates, zero-width characters, the
 * soft hyphen, tag characters); the line and paragraph separators; every space but U+0020; the Hangul fillers.
 */
const HIDDEN = new RegExp(`[${CONTROLS}\\p{Cf}\\u2028\\u2029\\p{Zs}\\u115f\\u1160\\u3164\\uffa0]`, "gu");
const CONTROL = new RegExp(`[${CONTROLS}]`, "g");

function mark(char: string): string {
  return `⟨U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}⟩`;
}

/** `text` with every hidden character shown as `⟨U+XXXX⟩`, and how many there were. Plain spaces stay as they are. */
export function revealHidden(text: string): { text: string; hidden: number } {
  let hidden = 0;
  const shown = text.replace(HIDDEN, (char) => {
    if (char === " ") return char;
    hidden++;
    return mark(char);
  });
  return { text: shown, hidden };
}

/**
 * `text` with the characters a terminal acts on (escape sequences, carriage returns, backspaces) shown as `⟨U+XXXX⟩`:
 * for prose and output from machines and models on a terminal, where other hidden characters are a language's own.
 */
export function revealControls(text: string): string {
  return text.replace(CONTROL, mark);
}
