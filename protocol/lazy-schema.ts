/**
 * A schema built by its first use and kept from then on. The protocol holds one schema per action; the agent, which
 * stays up for as long as the machine, builds only those of the actions it is actually asked to run, and an agent at
 * rest builds none (docs/benchmarks.md, "The agent at rest"). The type of the schema is the built one, so every type
 * still flows from the zod definition inside `build`.
 */
export function onFirstUse<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => (built ??= build());
}
