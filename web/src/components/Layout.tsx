import type { ComponentChildren } from "preact";
import { useLayoutEffect, useState } from "preact/hooks";
import { messageOf, send } from "../api.ts";
import { liveState } from "../live.ts";
import { AUTH } from "../paths.ts";
import { canManageNodes } from "../permissions.ts";
import { location, navigate } from "../router.ts";
import { chooseSite, me, role, signedOut, site } from "../session.ts";
import { Link } from "./Link.tsx";

const LIVE_LABEL = { open: "live", connecting: "connecting…", retrying: "reconnecting…" } as const;

function SiteSwitcher() {
  const memberships = me.value?.memberships ?? [];
  if (memberships.length <= 1) return site.value ? <span class="site-name">{site.value.siteName}</span> : null;
  return (
    <label class="site-switcher">
      <span class="visually-hidden">Site</span>
      <select value={site.value?.site} onChange={(e) => chooseSite(e.currentTarget.value)}>
        {memberships.map((m) => (
          <option key={m.site} value={m.site}>
            {m.siteName} ({m.role})
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * The frame of every signed-in page. On a wide screen the navigation and the account line sit in one bar; on a
 * phone the bar shows only the name, the live state and a Menu button that opens them (closed again on navigation).
 */
export function Layout({ children }: { children: ComponentChildren }) {
  const [error, setError] = useState("");
  const [menuOpen, setMenuOpen] = useState(false);
  const path = location.value.path;
  // Before the new page paints: a plain effect waits for the next animation frame, and the open menu would cover it.
  useLayoutEffect(() => setMenuOpen(false), [path]);

  async function signOut() {
    try {
      await send(AUTH.logout, { method: "POST" });
      signedOut();
      navigate("/signin");
    } catch (err) {
      setError(messageOf(err));
    }
  }
  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class={`topbar${menuOpen ? " menu-open" : ""}`}>
        <Link href="/machines" class="brand">
          Cortex
        </Link>
        <span class={`live-dot live-${liveState.value}`} role="status" title="Live updates">
          {LIVE_LABEL[liveState.value]}
        </span>
        <button type="button" class="menu-button" aria-expanded={menuOpen} aria-controls="topbar-menu" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <div class="topbar-menu" id="topbar-menu">
          <nav aria-label="Main">
            <Link href="/machines" nav>
              Machines
            </Link>
            <Link href="/chat" nav>
              Chat
            </Link>
            <Link href="/run" nav>
              Run on many
            </Link>
            {canManageNodes(role.value) ? (
              <Link href="/add" nav>
                Add a machine
              </Link>
            ) : null}
            <Link href="/roosts" nav>
              Roosts
            </Link>
            <Link href="/autonomy" nav>
              Autonomy
            </Link>
            <Link href="/directives" nav>
              Directives
            </Link>
            <Link href="/logs" nav>
              Activity
            </Link>
            <Link href="/settings" nav>
              Settings
            </Link>
          </nav>
          <div class="topbar-end">
            <SiteSwitcher />
            <span class="who" title={me.value?.user.email}>
              {me.value?.user.name} <span class="role">{role.value}</span>
            </span>
            <button type="button" class="link-button" onClick={signOut}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      {error ? (
        <p class="notice notice-error" role="alert">
          {error}
        </p>
      ) : null}
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
