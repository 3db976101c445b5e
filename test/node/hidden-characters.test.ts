import { describe, expect, it } from "vitest";
import { revealControls, revealHidden } from "../../protocol/hidden-characters.ts";

/** What a person approving a command sees of characters that would disguise it. */

describe("revealHidden", () => {
  it("shows each character that reorders, hides or rewrites text, and counts them", () => {
    const cases: [string, string][] = [
      ["rm -rf /\u202e pmt/", "rm -rf /⟨U+202E⟩ pmt/"],
      ["a\u2067b\u2069c", "a⟨U+2067⟩b⟨U+2069⟩c"],
      ["ls\u200b -la", "ls⟨U+200B⟩ -la"],
      ["\ufeffecho", "⟨U+FEFF⟩echo"],
      ["echo ok\rrm -rf /", "echo ok⟨U+000D⟩rm -rf /"],
      ["\u001b[2Kclear", "⟨U+001B⟩[2Kclear"],
      ["\u009b2K", "⟨U+009B⟩2K"],
      ["cat /etc/\u00a0passwd", "cat /etc/⟨U+00A0⟩passwd"],
      ["a\u2028b", "a⟨U+2028⟩b"],
      ["soft\u00adhyphen", "soft⟨U+00AD⟩hyphen"],
      ["tag\u{e0041}", "tag⟨U+E0041⟩"],
      ["blank\u3164name", "blank⟨U+3164⟩name"],
      ["x\u007fy", "x⟨U+007F⟩y"],
      ["rm\u034f -rf", "rm⟨U+034F⟩ -rf"],
      ["ls\ufe0f", "ls⟨U+FE0F⟩"],
      ["a\u{e0100}b", "a⟨U+E0100⟩b"],
      ["a\u2065b", "a⟨U+2065⟩b"],
      ["a\ufff0b", "a⟨U+FFF0⟩b"],
      ["a\u2800b", "a⟨U+2800⟩b"],
      ["a\u180bb", "a⟨U+180B⟩b"],
      ["a\ud800b", "a⟨U+D800⟩b"],
    ];
    for (const [input, shown] of cases) {
      expect(revealHidden(input), JSON.stringify(input)).toEqual({ text: shown, hidden: 1 + (input.includes("\u2069") ? 1 : 0) });
    }
  });

  it("shows a payload hidden in variation selectors, and a stack of combining marks drawn over other lines", () => {
    const payload = [..."rm -rf /"].map((c) => String.fromCodePoint(0xe0100 + c.charCodeAt(0))).join("");
    expect(revealHidden(`ls${payload}`).hidden).toBe(8);
    expect(revealHidden("e\u0301\u0302\u0303\u0304x")).toEqual({ text: "e⟨U+0301⟩⟨U+0302⟩⟨U+0303⟩⟨U+0304⟩x", hidden: 4 });
    expect(revealHidden("e\u0301\u0302x")).toEqual({ text: "e\u0301\u0302x", hidden: 0 });
  });

  it("leaves plain text alone: spaces, tabs, newlines, other scripts, emoji", () => {
    for (const text of ["systemctl restart nginx", "line one\n\tline two", "שלום עולם", "مرحبا", "日本語のテキスト", "ok 👍🏽 done", ""]) {
      expect(revealHidden(text)).toEqual({ text, hidden: 0 });
    }
  });
});

describe("revealControls", () => {
  it("shows what a terminal would act on, and keeps newlines, tabs and a language's own marks", () => {
    expect(revealControls("\u001b]52;c;ZXZpbA==\u0007done")).toBe("⟨U+001B⟩]52;c;ZXZpbA==⟨U+0007⟩done");
    expect(revealControls("50%\rdone\b")).toBe("50%⟨U+000D⟩done⟨U+0008⟩");
    expect(revealControls("a\n\tb \u200fעברית")).toBe("a\n\tb \u200fעברית");
  });
});
