import { useState } from "preact/hooks";

/** A value to copy (a command, a key, a link) with a button that copies it. */
export function CopyField({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState<"" | "copied" | "failed">("");
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied("copied");
    } catch {
      setCopied("failed");
    }
  }
  return (
    <div class="copy-field">
      <span class="copy-label">{label}</span>
      <code class="copy-value" tabIndex={0}>
        {value}
      </code>
      <button type="button" onClick={copy}>
        Copy
      </button>
      <span class="copy-state" role="status">
        {copied === "copied" ? "Copied" : copied === "failed" ? "Select the text and copy it by hand" : ""}
      </span>
    </div>
  );
}
