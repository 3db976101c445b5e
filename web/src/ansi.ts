import Anser from "anser";

/** A run of output text with the classes (and, for 24-bit colours, the colours) its ANSI codes asked for. */
export interface Segment {
  text: string;
  className: string;
  color?: string;
  background?: string;
}

const ESC = "\u001b";

/**
 * Turns a stream of output chunks into styled segments. Colour state carries over from one chunk to the next, and
 * an escape sequence split across two chunks is held back until it is complete. The text is only ever rendered as
 * text nodes: nothing here produces markup.
 */
export class AnsiRenderer {
  private readonly anser = new Anser();
  private pending = "";
  /** Style in force at the end of the last chunk: anser applies its state only to text after an escape code. */
  private carry: Segment = { text: "", className: "" };

  push(chunk: string): Segment[] {
    let text = this.pending + chunk;
    this.pending = "";
    const lastEsc = text.lastIndexOf(ESC);
    if (lastEsc >= 0 && !/^\u001b\[[0-9;?]*[ -/]*[@-~]/.test(text.slice(lastEsc)) && text.length - lastEsc < 32) {
      this.pending = text.slice(lastEsc);
      text = text.slice(0, lastEsc);
    }
    if (!text) return [];
    const [head, ...rest] = this.anser.ansiToJson(text, { use_classes: true }).map(segmentOf);
    const segments = [{ ...this.carry, text: head?.text ?? "" }, ...rest];
    if (rest.length) this.carry = { ...rest[rest.length - 1]!, text: "" };
    return segments.filter((s) => s.text.length > 0);
  }

  /** Whatever is held back at the end of the stream, as plain text. */
  flush(): Segment[] {
    const rest = this.pending.replace(/\u001b\[[0-9;?]*/g, "");
    this.pending = "";
    return rest ? [{ text: rest, className: "" }] : [];
  }
}

const BASE16 = [
  "0,0,0", "205,49,49", "13,188,121", "229,229,16", "36,114,200", "188,63,188", "17,168,205", "229,229,229",
  "102,102,102", "241,76,76", "35,209,139", "245,245,67", "59,142,234", "214,112,214", "41,184,219", "255,255,255",
];

/** The xterm 256-colour palette: 16 base colours, a 6x6x6 cube, then 24 greys. */
function paletteColor(n: number): string {
  if (n < 16) return `rgb(${BASE16[n]})`;
  if (n < 232) {
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    const i = n - 16;
    return `rgb(${level(Math.floor(i / 36))},${level(Math.floor(i / 6) % 6)},${level(i % 6)})`;
  }
  const grey = 8 + (n - 232) * 10;
  return `rgb(${grey},${grey},${grey})`;
}

/** A class for the 16 named colours; an explicit colour for palette and 24-bit ones. */
function colorOf(cls: string | null, truecolor: string | null): { cls?: string; color?: string } {
  if (!cls) return {};
  if (truecolor) return { color: `rgb(${truecolor})` };
  const palette = /^ansi-palette-(\d+)$/.exec(cls);
  if (palette) return { color: paletteColor(Math.min(255, Number(palette[1]))) };
  return { cls };
}

function segmentOf(e: Anser.AnserJsonEntry): Segment {
  const classes: string[] = [];
  const seg: Segment = { text: stripControls(e.content ?? ""), className: "" };
  const fg = colorOf(e.fg, e.fg_truecolor);
  const bg = colorOf(e.bg, e.bg_truecolor);
  if (fg.cls) classes.push(`${fg.cls}-fg`);
  if (bg.cls) classes.push(`${bg.cls}-bg`);
  if (fg.color) seg.color = fg.color;
  if (bg.color) seg.background = bg.color;
  for (const d of e.decorations) classes.push(`ansi-${d}`);
  seg.className = classes.join(" ");
  return seg;
}

/** Drops control characters other than newline and tab, and the escape sequences anser does not interpret. */
function stripControls(text: string): string {
  return text.replace(/\u001b\][^\u0007]*(\u0007|\u001b\\)/g, "").replace(/[\u0000-\u0008\u000b-\u000c\u000e-\u001f\u007f]/g, "");
}
