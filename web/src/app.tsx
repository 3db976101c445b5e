import { effect } from "@preact/signals";
import { useEffect, useState } from "preact/hooks";
import { loadServedAgent } from "./agent-release.ts";
import { lazyPage } from "./lazy.tsx";
import { watchSite } from "./live.ts";
import { location, match, navigate, queryParam } from "./router.ts";
import { me, site } from "./session.ts";
import { Layout } from "./components/Layout.tsx";
import { Link } from "./components/Link.tsx";
import { AcceptInvite } from "./pages/AcceptInvite.tsx";
import { AddMachine } from "./pages/AddMachine.tsx";
import { Autonomy } from "./pages/Autonomy.tsx";
import { Logs } from "./pages/Logs.tsx";
import { MachineDetail } from "./pages/MachineDetail.tsx";
import { Machines } from "./pages/Machines.tsx";
import { RunMany } from "./pages/RunMany.tsx";
import { Settings } from "./pages/Settings.tsx";
import { SignIn } from "./pages/SignIn.tsx";
import { Setup } from "./pages/Setup.tsx";

// The chat (and the markdown code it loads) comes only when first opened, so the first page does not grow.
const Chat = lazyPage(() => import("./pages/Chat.tsx").then((m) => m.Chat));

const PUBLIC = ["/signin", "/setup"];

// One live socket, for the site on screen, while someone is signed in.
effect(() => watchSite(me.value ? (site.value?.site ?? null) : null));
// The agent this hub serves, so machines running an older one can be flagged.
effect(() => {
  const current = me.value ? site.value?.site : undefined;
  if (current) loadServedAgent(current);
});

const TITLES: [string, string][] = [
  ["/roosts/deployment/:id", "Deployment"],
  ["/roosts/:roost", "Roost"],
  ["/roosts", "Roosts"],
  ["/machines/:id", "Machine"],
  ["/machines", "Machines"],
  ["/chat/:id", "Chat"],
  ["/chat", "Chat"],
  ["/run", "Run on many"],
  ["/add", "Add a machine"],
  ["/logs", "Activity"],
  ["/autonomy", "Autonomous investigations"],
  ["/settings", "Settings"],
  ["/signin", "Sign in"],
  ["/setup", "Set up"],
];

type RoostsModule = typeof import("./pages/roosts/Roosts.tsx");

/** The roost pages are a chunk of their own, fetched the first time one is opened. */
function LazyRoosts({ site, path }: { site: string; path: string }) {
  const [mod, setMod] = useState<RoostsModule | null>(null);
  const [failed, setFailed] = useState("");
  useEffect(() => {
    import("./pages/roosts/Roosts.tsx").then(setMod, (err: Error) => setFailed(err.message));
  }, []);
  if (failed) return <p class="notice notice-error">Could not load this page: {failed}</p>;
  return mod ? <mod.Roosts site={site} path={path} /> : <p class="loading">Loading…</p>;
}

function SitePage({ path, siteId }: { path: string; siteId: string }) {
  const detail = match("/machines/:id", path);
  if (detail) return <MachineDetail site={siteId} id={detail.id!} />;
  const chat = match("/chat/:id", path);
  if (chat || path === "/chat") return <Chat site={siteId} id={chat?.id ?? null} />;
  if (path === "/roosts" || path.startsWith("/roosts/")) return <LazyRoosts site={siteId} path={path} />;
  switch (path) {
    case "/machines":
      return <Machines />;
    case "/run":
      return <RunMany site={siteId} />;
    case "/add":
      return <AddMachine site={siteId} />;
    case "/logs":
      return <Logs site={siteId} />;
    case "/autonomy":
      return <Autonomy site={siteId} />;
    case "/settings":
      return <Settings />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page at this address. <Link href="/machines">Go to the machines.</Link>
          </p>
        </section>
      );
  }
}

function NoSite() {
  return (
    <section>
      <h1>No site yet</h1>
      {me.value?.user.superadmin ? (
        <p>
          Create the first site in <Link href="/settings">Settings</Link>.
        </p>
      ) : (
        <p>You are not a member of any site. Ask a site's admin for an invite.</p>
      )}
    </section>
  );
}

export function App() {
  const path = location.value.path;
  const user = me.value;
  const invite = match("/invite/:token", path)?.token ?? (path === "/invite" ? queryParam("token") : null);

  useEffect(() => {
    const title = TITLES.find(([p]) => match(p, path))?.[1];
    document.title = title ? `${title} · Cortex` : "Cortex";
  }, [path]);

  useEffect(() => {
    if (user === undefined || invite) return;
    if (user === null && !PUBLIC.includes(path)) navigate(`/signin${path === "/" ? "" : `?next=${encodeURIComponent(path + location.value.search)}`}`, { replace: true });
    else if (user && (PUBLIC.includes(path) || path === "/")) navigate("/machines", { replace: true });
  }, [user, path, invite]);

  if (user === undefined) return <p class="loading">Loading…</p>;
  if (invite) return <AcceptInvite token={invite} />;
  if (user === null) return path === "/setup" ? <Setup /> : <SignIn />;
  if (PUBLIC.includes(path) || path === "/") return null;
  const current = site.value;
  if (!current && path !== "/settings") {
    return (
      <Layout>
        <NoSite />
      </Layout>
    );
  }
  return <Layout>{current ? <SitePage key={current.site} path={path} siteId={current.site} /> : <Settings />}</Layout>;
}
