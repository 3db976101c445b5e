import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { focusHeading } from "./router.ts";

/**
 * A page whose code loads when it is first shown, so the first page's script stays small (machine pages, charts,
 * settings and history are not needed to sign in or to see the machines). Once loaded it renders like any other.
 */
export function lazyPage<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | null = null;
  let loading: Promise<ComponentType<P>> | null = null;
  return function LazyPage(props: P) {
    const [, setReady] = useState(false);
    const [failed, setFailed] = useState(false);
    useEffect(() => {
      if (loaded) return;
      let live = true;
      loading ??= load();
      loading.then(
        (page) => {
          loaded = page;
          if (live) setReady(true);
        },
        () => {
          loading = null;
          if (live) setFailed(true);
        },
      );
      return () => {
        live = false;
      };
    }, []);
    useEffect(() => focusHeading());
    if (loaded) {
      const Page = loaded;
      return <Page {...props} />;
    }
    if (failed) {
      return (
        <p class="notice notice-error" role="alert">
          This page could not be loaded (the hub may have been updated). Reload the page to try again.
        </p>
      );
    }
    return <p class="loading">Loading…</p>;
  };
}
