import { signal } from "@preact/signals";

/** The time shown in "… ago" labels, advanced every few seconds (display only; nothing is fetched). */
export const now = signal(Date.now());
window.setInterval(() => (now.value = Date.now()), 5_000);
