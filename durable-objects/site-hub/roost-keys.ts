/**
 * Where roost data lives in the R2 bucket. Every key starts with the site: a chunk is stored once per site,
 * whoever pushes it, and never shared between sites, so whether a chunk "exists" can only ever be learnt about
 * one's own site (a member of one site cannot test whether another site holds a given file).
 */
export function chunkKey(site: string, hash: string): string {
  return `sites/${site}/chunks/${hash}`;
}

export function manifestKey(site: string, roost: string, version: number): string {
  return `sites/${site}/roosts/${roost}/${version}.json`;
}
