import os from "node:os";
import { readdir } from "node:fs/promises";
import type { ActionParams } from "../../protocol/directives.ts";
import { table, writeJson } from "../host/compact-output.ts";
import { readProcess } from "../host/procfs.ts";
import { readText } from "../host/read-text.ts";
import { listeningSockets, parseIpv4DefaultRoutes, parseIpv6DefaultRoutes, socketOwners } from "../host/sockets.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";

const MAX_LISTENING = 200;

/** Every interface the kernel has (also those without an address), with what Node and /sys/class/net say. */
async function interfaces() {
  const addressed = os.networkInterfaces();
  const names = process.platform === "linux" ? await readdir("/sys/class/net").catch(() => Object.keys(addressed)) : Object.keys(addressed);
  return Promise.all(
    [...new Set([...names, ...Object.keys(addressed)])].sort().map(async (name) => {
      const addresses = addressed[name] ?? [];
      const sys = process.platform === "linux" ? `/sys/class/net/${name}` : null;
      const [state, mtu] = sys ? await Promise.all([readText(`${sys}/operstate`), readText(`${sys}/mtu`)]) : [null, null];
      const mac = addresses.find((a) => a.mac !== "00:00:00:00:00:00")?.mac ?? (sys ? await readText(`${sys}/address`) : null);
      return {
        name,
        ...(state && { state }),
        ...(mtu && { mtu: Number(mtu) }),
        ...(mac && mac !== "00:00:00:00:00:00" && { mac }),
        addresses: addresses.map((a) => a.cidr ?? a.address),
      };
    }),
  );
}

/** The resolvers in resolv.conf: addresses only, which every local program may read. */
async function dnsServers(): Promise<string[]> {
  const conf = (await readText("/etc/resolv.conf")) ?? "";
  return [...conf.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]!);
}

/**
 * The listening ports, with the process behind each at tier root. Finding a socket's process means reading other
 * users' /proc/PID/fd, which the kernel shows only to root, so below root the column stays empty, as `ss -p` would.
 */
async function listening(withOwners: boolean) {
  const sockets = await listeningSockets();
  const owners = withOwners ? await socketOwners(new Set(sockets.map((s) => s.inode))) : new Map<number, number[]>();
  const names = new Map<number, string>();
  for (const pids of owners.values()) {
    for (const pid of pids) if (!names.has(pid)) names.set(pid, (await readProcess(pid))?.name ?? "?");
  }
  const rows = sockets
    .sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol))
    .map((s) => {
      const pids = owners.get(s.inode) ?? [];
      return [s.protocol, s.address, s.port, pids.map((pid) => `${names.get(pid)}(${pid})`).join(",") || null];
    });
  return {
    listening: table(["proto", "address", "port", "process"], rows.slice(0, MAX_LISTENING)),
    ...(rows.length > MAX_LISTENING && { listeningShown: `${MAX_LISTENING} of ${rows.length}` }),
    ...(!withOwners && { listeningNote: "the process behind each port is shown at tier root only" }),
  };
}

export async function networkInfo(_params: ActionParams<"network.info">, ctx: ActionContext): Promise<ActionOutcome> {
  const linux = process.platform === "linux";
  const [ifaces, dns, routes4, routes6, ports] = await Promise.all([
    interfaces(),
    linux ? dnsServers() : Promise.resolve(null),
    linux ? readText("/proc/net/route") : Promise.resolve(null),
    linux ? readText("/proc/net/ipv6_route") : Promise.resolve(null),
    linux ? listening(ctx.host.tier === "root") : Promise.resolve({ listeningNote: "listening ports are listed on Linux only" }),
  ]);
  ctx.signal.throwIfAborted();
  writeJson(ctx.out, {
    hostname: os.hostname(),
    interfaces: ifaces,
    ...(linux && { defaultRoutes: [...parseIpv4DefaultRoutes(routes4 ?? ""), ...parseIpv6DefaultRoutes(routes6 ?? "")] }),
    ...(dns && { dnsServers: dns }),
    ...ports,
  });
  return {};
}
