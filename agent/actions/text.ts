/** A NUL byte marks a file as binary, as git and ripgrep judge it. */
export function looksBinary(bytes: Buffer): boolean {
  return bytes.includes(0);
}

/** The file's lines, without their terminators; a final newline does not start another line. */
export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines;
}
