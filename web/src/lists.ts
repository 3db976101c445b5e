import { request } from "./api.ts";

/** Fetches a collection; the hub answers each as an object (`{ members: [...] }`) so it can add fields later. */
export async function fetchList<T>(path: string, key: string): Promise<T[]> {
  const body = await request<Record<string, T[] | undefined>>(path);
  return body[key] ?? [];
}
