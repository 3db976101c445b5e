import type { ComponentChildren } from "preact";

/** A message line: errors are announced to screen readers as they appear. */
export function Notice({ tone = "error", children }: { tone?: "error" | "info" | "ok"; children: ComponentChildren }) {
  if (children === null || children === undefined || children === "") return null;
  return (
    <p class={`notice notice-${tone}`} role={tone === "error" ? "alert" : "status"}>
      {children}
    </p>
  );
}
