import type { ComponentChildren } from "preact";
import { followLink, location } from "../router.ts";

/** An ordinary anchor (open in new tab works) that navigates inside the app on a plain click. */
export function Link(props: { href: string; class?: string; children: ComponentChildren; nav?: boolean }) {
  const current = props.nav && (location.value.path === props.href || location.value.path.startsWith(`${props.href}/`));
  return (
    <a href={props.href} class={props.class} onClick={followLink} aria-current={current ? "page" : undefined}>
      {props.children}
    </a>
  );
}
