import { signal } from "@preact/signals";
import { useMemo } from "preact/hooks";
import { loadMarkdown } from "../../chat/markdown.ts";

/**
 * The model's text as markdown. The parser and the sanitiser load on first use (the chat page stays small); until
 * then the text shows as plain text, which is just as safe.
 */
const render = signal<((text: string) => string) | null>(null);
let loading: Promise<void> | null = null;

function load(): void {
  loading ??= loadMarkdown().then(
    (fn) => void (render.value = fn),
    () => void (loading = null),
  );
}

export function Markdown({ text, class: className }: { text: string; class?: string }) {
  const fn = render.value;
  if (!fn) load();
  const html = useMemo(() => (fn ? fn(text) : null), [fn, text]);
  if (html === null) return <div class={`${className ?? ""} plain-text`}>{text}</div>;
  return <div class={className} dangerouslySetInnerHTML={{ __html: html }} />;
}
