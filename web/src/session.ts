import { computed, signal } from "@preact/signals";
import type { MeResponse, Membership } from "../../protocol/accounts.ts";
import { ApiFailure, onUnauthorized, request } from "./api.ts";
import { AUTH } from "./paths.ts";

export type Role = Membership["role"];

/** The signed-in person: undefined while it is being asked, null when nobody is signed in. */
export const me = signal<MeResponse | null | undefined>(undefined);

const SITE_KEY = "cortex.site";
const chosenSite = signal<string | null>(localStorage.getItem(SITE_KEY));

/** The site the dashboard shows: the one chosen last, if still one of the person's sites, else their first. */
export const site = computed<Membership | null>(() => {
  const memberships = me.value?.memberships ?? [];
  return memberships.find((m) => m.site === chosenSite.value) ?? memberships[0] ?? null;
});

export const role = computed<Role | null>(() => (me.value?.user.superadmin ? "superadmin" : (site.value?.role ?? null)));

export function chooseSite(id: string): void {
  localStorage.setItem(SITE_KEY, id);
  chosenSite.value = id;
}

export async function loadMe(): Promise<void> {
  try {
    me.value = await request<MeResponse>(AUTH.me);
  } catch (err) {
    if (err instanceof ApiFailure && (err.status === 401 || err.status === 404)) me.value = null;
    else throw err;
  }
}

export function signedOut(): void {
  me.value = null;
}

onUnauthorized(signedOut);
