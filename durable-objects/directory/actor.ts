/** Who did something and from where, for the audit trail. */
export interface Actor {
  actor: string;
  ip: string | null;
}
