import { useEffect, useState } from "preact/hooks";
import { messageOf, request } from "../../api.ts";

/** An answer from the hub with its loading error, and a way to read it again after a change. */
export function useResource<T>(path: string | null) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState("");
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (!path) return;
    request<T>(path).then(
      (body) => (setData(body), setError("")),
      (err) => setError(messageOf(err)),
    );
  }, [path, version]);
  return { data, error, reload: () => setVersion((v) => v + 1) };
}

/** A list from the hub; the hub answers each as an object (`{ members: [...] }`) so it can add fields later. */
export function useList<T>(path: string | null, key: string) {
  const resource = useResource<Record<string, T[] | undefined>>(path);
  return { items: resource.data ? (resource.data[key] ?? []) : null, error: resource.error, reload: resource.reload };
}
