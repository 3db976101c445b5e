import { useEffect, useRef } from "preact/hooks";
import type { Segment } from "../ansi.ts";

/** Command output as styled text spans; follows the end while the user has not scrolled up. */
export function Output({ segments, label }: { segments: readonly Segment[]; label: string }) {
  const ref = useRef<HTMLPreElement>(null);
  const pinned = useRef(true);
  useEffect(() => {
    const el = ref.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [segments]);
  return (
    <pre
      ref={ref}
      class="console-output"
      tabIndex={0}
      aria-label={label}
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      {segments.map((s, i) => (
        <span key={i} class={s.className || undefined} style={s.color || s.background ? { color: s.color, backgroundColor: s.background } : undefined}>
          {s.text}
        </span>
      ))}
    </pre>
  );
}
