/**
 * The address `npm start` tells people to open. Passkeys (WebAuthn) refuse IP addresses, so a hub listening on a
 * loopback or wildcard address is shown as http://localhost:<port>, which browsers treat as a secure host name and
 * route to loopback. A hub bound to one particular address or name is shown as it is.
 */
export function dashboardUrl(host: string, port: number): string {
  const bare = host.replace(/^\[|\]$/g, "");
  const local = bare === "localhost" || bare === "0.0.0.0" || bare === "::" || bare === "::1" || /^127\./.test(bare);
  const shown = local ? "localhost" : bare.includes(":") ? `[${bare}]` : bare;
  return `http://${shown}:${port}`;
}
