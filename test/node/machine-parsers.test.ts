import { describe, expect, it } from "vitest";
import { parseSize } from "../../agent/actions/disk-clean.ts";
import { parseDu } from "../../agent/actions/disk-usage.ts";
import { permissions } from "../../agent/actions/list.ts";
import { sanitizeCommandLine } from "../../agent/host/command-line.ts";
import { parseDf } from "../../agent/host/filesystems.ts";
import { parseStat } from "../../agent/host/procfs.ts";
import { decodeAddress, parseIpv4DefaultRoutes, parseIpv6DefaultRoutes, parseSocketTable } from "../../agent/host/sockets.ts";

describe("command lines shown to a model", () => {
  const cases: [string[], string][] = [
    [["/usr/bin/app", "--password", "hunter2", "--port", "80"], "/usr/bin/app --password [REDACTED:secret argument] --port 80"],
    [["app", "--api-key=abc"], "app --api-key=[REDACTED:secret argument]"],
    [["app", "-token", "t0k"], "app -token [REDACTED:secret argument]"],
    [["mysql", "-uroot", "-pS3cret"], "mysql -uroot -p[REDACTED:secret argument]"],
    [["sshpass", "-p", "pw", "ssh", "host"], "sshpass -p [REDACTED:secret argument] ssh host"],
    [["ssh", "-p", "2222", "host"], "ssh -p 2222 host"],
    [["env", "DB_PASSWORD=x1", "PATH=/bin"], "env DB_PASSWORD=[REDACTED:secret argument] PATH=/bin"],
    [["curl", "-H", "Authorization: Bearer abcdefghijklmnop1234"], "curl -H Authorization: Bearer [REDACTED:bearer token]"],
    [["aws", "AKIAIOSFODNN7EXAMPLE"], "aws [REDACTED:aws access key]"],
    [["git", "clone", "https://bob:pa55@example.com/x.git"], "git clone https://bob:[REDACTED:url credentials]@example.com/x.git"],
    [["worker", "Xk9fP2qL7vB4nR8sT1wY6zA3cD5eG0hJ"], "worker [REDACTED:secret argument]"],
    [["python3", "/usr/lib/python3.11/site-packages/app/main.py", "--workers", "4"], "python3 /usr/lib/python3.11/site-packages/app/main.py --workers 4"],
    [["node", "--max-old-space-size=4096", "server.js"], "node --max-old-space-size=4096 server.js"],
  ];
  for (const [argv, shown] of cases) {
    it(argv.join(" "), () => expect(sanitizeCommandLine(argv)).toBe(shown));
  }

  it("cuts very long arguments and lines", () => {
    const shown = sanitizeCommandLine(["app", ...Array.from({ length: 20 }, (_, i) => `/data/${"x".repeat(100)}/${i}.csv`)]);
    expect(shown.length).toBeLessThan(600);
    expect(shown).toMatch(/…\[\+\d+ chars\]$/);
  });
});

describe("/proc parsing", () => {
  it("reads a stat line whose name holds spaces and parentheses", () => {
    const fields = ["S", "1", "42", "42", "0", "-1", "4194560", "100", "0", "0", "0", "250", "50", "0", "0", "20", "0", "3", "0", "12345", "1000", "200"];
    const stat = parseStat(`4242 (my (odd) name) ${fields.join(" ")}`);
    expect(stat).toMatchObject({ pid: 4242, name: "my (odd) name", state: "S", ppid: 1, cpuTicks: 300, threads: 3, startTicks: 12345, kernelThread: false });
    const kthread = parseStat(`2 (kthreadd) ${["S", "0", ...fields.slice(2, 6), String(0x00208040), ...fields.slice(7)].join(" ")}`);
    expect(kthread?.kernelThread).toBe(true);
    expect(parseStat("garbage")).toBeNull();
  });

  it("decodes socket table addresses in both byte orders", () => {
    expect(decodeAddress("0100007F")).toBe("127.0.0.1");
    expect(decodeAddress("00000000000000000000000001000000")).toBe("::1");
    expect(decodeAddress("0000000000000000FFFF00000100007F")).toBe("::ffff:127.0.0.1");
    expect(decodeAddress("fd000000000000000000000000000001", "network")).toBe("fd00::1");
  });

  it("finds listening TCP sockets and unconnected UDP sockets only", () => {
    const tcp = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:A45B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 60346 1 0 100 0 0 10 0",
      "   1: 0100007F:A45B 0100007F:D000 01 00000000:00000000 00:00000000 00000000     0        0 60347 1 0 100 0 0 10 0",
    ].join("\n");
    expect(parseSocketTable(tcp, "tcp")).toEqual([{ protocol: "tcp", address: "127.0.0.1", port: 42075, inode: 60346 }]);
    const udp = [
      "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops",
      "  1: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 111 2 0 0",
      "  2: 00000000:9C40 0200A8C0:0035 01 00000000:00000000 00:00000000 00000000     0        0 112 2 0 0",
    ].join("\n");
    expect(parseSocketTable(udp, "udp")).toEqual([{ protocol: "udp", address: "0.0.0.0", port: 68, inode: 111 }]);
  });

  it("finds the default routes", () => {
    const v4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
    expect(parseIpv4DefaultRoutes(v4)).toEqual([{ interface: "eth0", gateway: "192.0.2.1" }]);
    const v6 = [
      "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0",
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003     eth0",
    ].join("\n");
    expect(parseIpv6DefaultRoutes(v6)).toEqual([{ interface: "eth0", gateway: "fd00::1" }]);
  });
});

describe("program output parsing", () => {
  it("reads df with mount points that contain spaces", () => {
    const df = "Filesystem Type 1B-blocks Used Avail Inodes IUsed Mounted on\n/dev/vda ext4 1000 250 700 100 10 /\n/dev/sdb1 vfat 200 100 100 - - /media/My Disk\n";
    expect(parseDf(df)).toEqual([
      { mount: "/", device: "/dev/vda", type: "ext4", sizeBytes: 1000, usedBytes: 250, freeBytes: 700, usePercent: 26.3, inodesUsedPercent: 10 },
      { mount: "/media/My Disk", device: "/dev/sdb1", type: "vfat", sizeBytes: 200, usedBytes: 100, freeBytes: 100, usePercent: 50, inodesUsedPercent: null },
    ]);
  });

  it("reads du with any character but a newline in paths", () => {
    expect(parseDu("4096\t/var/a b\n12\t/var/tab\there\nnoise\n")).toEqual([
      { path: "/var/a b", bytes: 4096 },
      { path: "/var/tab\there", bytes: 12 },
    ]);
  });

  it("reads journalctl's sizes", () => {
    expect(parseSize("0B")).toBe(0);
    expect(parseSize("120.0M")).toBe(120 * 1024 * 1024);
    expect(parseSize("1.5G")).toBe(1.5 * 1024 ** 3);
    expect(parseSize("lots")).toBeNull();
  });

  it("writes permissions as ls does", () => {
    expect(permissions(0o755)).toBe("rwxr-xr-x");
    expect(permissions(0o4755)).toBe("rwsr-xr-x");
    expect(permissions(0o1777)).toBe("rwxrwxrwt");
    expect(permissions(0o2640)).toBe("rw-r-S---");
  });
});
