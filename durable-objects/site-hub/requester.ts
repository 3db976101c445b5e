/** Who asks the site for something, as the Worker authenticated and authorised them. */
export interface Requester {
  /** How they are named in records and the activity log: an email, "email (key name)", or "admin key". */
  actor: string;
  /** The person behind the request; null for the bootstrap admin key, which belongs to nobody. */
  userId: string | null;
  /**
   * Capped at risk tier 1 (a member, a read or chat API key): reads only inside the site's readable paths, and
   * sees other people's directives with secrets redacted and without the output of unconfined ones.
   */
  confined: boolean;
}
