import { useEffect, useRef, useState } from "preact/hooks";
import { messageOf, request } from "./api.ts";

/** A page of a list the hub answers newest first, with the cursor of the next older page (null at the first item). */
export interface Page {
  nextBefore: number | null;
}

/**
 * A list read from the hub a page at a time: the newest page whenever one of `deps` changes (the list shows as
 * loading meanwhile), older pages appended on request. `page` is the last page read, for the fields a page carries
 * beside its items; `loadedAt` is when the newest page was last read. An answer to a read made before the filters
 * last changed is dropped, so a slow page of the old filters never lands on the new ones.
 */
export function usePagedList<P extends Page, T>(pathOf: (before?: number) => string, itemsOf: (page: P) => T[], deps: unknown[]) {
  const [items, setItems] = useState<T[] | null>(null);
  const [page, setPage] = useState<P | null>(null);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [loadedAt, setLoadedAt] = useState(0);
  const generation = useRef(0);

  async function load(before?: number) {
    const asked = generation.current;
    setBusy(true);
    try {
      const answer = await request<P>(pathOf(before));
      if (asked !== generation.current) return;
      setItems((prev) => (before && prev ? prev.concat(itemsOf(answer)) : itemsOf(answer)));
      setPage(answer);
      setNext(answer.nextBefore);
      setError("");
      if (!before) setLoadedAt(Date.now());
    } catch (err) {
      if (asked === generation.current) setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    generation.current++;
    setItems(null);
    void load();
  }, deps);

  return { items, setItems, page, next, setNext, error, setError, busy, loadedAt, load };
}
