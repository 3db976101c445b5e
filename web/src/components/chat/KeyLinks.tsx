import { isAdmin } from "../../permissions.ts";
import { role } from "../../session.ts";
import { Link } from "../Link.tsx";

/** Where AI keys are set, in one place: the person's own key, and the site's for its admins. */
export const PERSONAL_KEY_SETTINGS = "/settings/account#ai-key-title";
export const SITE_KEY_SETTINGS = "/settings/site#site-ai-key-title";

export function KeyLinks() {
  return (
    <p class="small">
      <Link href={PERSONAL_KEY_SETTINGS}>Your AI key</Link>
      {isAdmin(role.value) ? (
        <>
          {" · "}
          <Link href={SITE_KEY_SETTINGS}>the site's AI key</Link>
        </>
      ) : null}
    </p>
  );
}
