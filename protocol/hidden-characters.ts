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
 * soft hyphen, tag characters); every other character Unicode says to render as nothing (variation selectors, the
 * combining grapheme joiner) and the unassigned ones, which render as nothing or as anything a later font decides;
 * lone surrogates; the line and paragraph separators; every space but U+0020; the blank braille pattern. Also a run of
 * four or more combining marks, which can be stacked to draw over the lines around it: hardly any text needs that
 * many on one letter.
 */
const HIDDEN = new RegExp(
  `[${CONTROLS}\\p{Cf}\\p{Default_Ignorable_Code_Point}\\p{Cn}\\p{Cs}\\u2028\\u2029\\p{Zs}\\u2800]|\\p{M}{4,}`,
  "gu",
);
const CONTROL = new RegExp(`[${CONTROLS}]`, "g");

function mark(char: string): string {
  return `⟨U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}⟩`;
}

/** `text` with every hidden character shown as `⟨U+XXXX⟩`, and how many there were. Plain spaces stay as they are. */
export function revealHidden(text: string): { text: string; hidden: number } {
  let hidden = 0;
  const shown = text.replace(HIDDEN, (found) => {
    if (found === " ") return found;
    const chars = [...found];
    hidden += chars.length;
    return chars.map(mark).join("");
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
