import type { Permission, Principal } from "./principal.ts";

/** The one place that decides whether a principal may do something on a site. */
export function authorize(principal: Principal, _site: string, _permission: Permission): boolean {
  switch (principal.kind) {
    case "admin_key":
      return true;
  }
}
