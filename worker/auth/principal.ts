/** Who is making a request, as established by authentication. */
export type Principal = { kind: "admin_key"; label: string };

/** What a request wants to do, checked per site by `authorize`. */
export type Permission = "nodes.read" | "nodes.manage" | "directives.run" | "directives.read" | "activity.read";
