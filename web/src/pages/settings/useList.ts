import { useEffect, useState } from "preact/hooks";
import { messageOf } from "../../api.ts";
import { fetchList } from "../../lists.ts";

/** A list from the hub with its loading error, and a way to reload it after a change. */
export function useList<T>(path: string | null, key: string) {
  const [items, setItems] = useState<T[] | null>(null);
  const [error, setError] = useState("");
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (!path) return;
    fetchList<T>(path, key).then(
      (list) => (setItems(list), setError("")),
      (err) => setError(messageOf(err)),
    );
  }, [path, key, version]);
  return { items, error, reload: () => setVersion((v) => v + 1) };
}
