import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findAllowedCommands, installSudoersDropIn, sudoersDropIn, sudoersFileName, SudoersError } from "../../agent/privilege/sudoers.ts";
import { sudoViolation } from "../../protocol/tier-policy.ts";
import { cleanUp, tempDir } from "./executor-harness.ts";

afterEach(cleanUp);

const hasVisudo = existsSync("/usr/sbin/visudo");

describe("sudoersDropIn", () => {
  const spec = { nodeId: "build-01", user: "cortex-build-01", commands: ["/usr/bin/apt-get", "/usr/bin/apt", "/usr/bin/npm"] };

  it("lets the action user run only the given package managers as root, without a password", () => {
    const text = sudoersDropIn(spec);
    expect(text).toContain("cortex-build-01 ALL=(root) NOPASSWD: /usr/bin/apt, /usr/bin/apt-get, /usr/bin/npm\n");
    expect(text).toContain('Defaults:cortex-build-01 env_keep += "DEBIAN_FRONTEND"');
    expect(text.split("\n").filter((line) => line && !line.startsWith("#") && !line.startsWith("Defaults"))).toHaveLength(1);
  });

  it("refuses user names and paths that would need escaping, root, programs not on the list and an empty list", () => {
    expect(() => sudoersDropIn({ ...spec, user: "bob ALL=(ALL) ALL" })).toThrow(SudoersError);
    expect(() => sudoersDropIn({ ...spec, user: "root" })).toThrow(/cannot be root/);
    expect(() => sudoersDropIn({ ...spec, commands: ["/usr/bin/apt-get, /bin/sh"] })).toThrow(/invalid command path/);
    expect(() => sudoersDropIn({ ...spec, commands: ["apt-get"] })).toThrow(/invalid command path/);
    expect(() => sudoersDropIn({ ...spec, commands: ["/bin/sh"] })).toThrow(/not one of the allowed/);
    expect(() => sudoersDropIn({ ...spec, commands: [] })).toThrow(/was found/);
  });

  it("names the file so that sudo reads it (no dot in the name)", () => {
    expect(sudoersFileName("build-01")).toBe("cortex-build-01");
    expect(sudoersFileName("a.b")).toBe("cortex-a-b");
  });

  it("finds the package managers by absolute path", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "apt-get"), "#!/bin/sh\n", { mode: 0o755 });
    writeFileSync(join(dir, "pip"), "not executable", { mode: 0o644 });
    expect(findAllowedCommands([dir])).toEqual([join(dir, "apt-get")]);
  });
});

describe.skipIf(!hasVisudo)("installSudoersDropIn (visudo is not installed here)", () => {
  it("writes a drop-in visudo accepts, mode 0440", () => {
    const file = join(tempDir(), "cortex-build-01");
    installSudoersDropIn(file, sudoersDropIn({ nodeId: "build-01", user: "cortex-build-01", commands: ["/usr/bin/apt-get"] }));
    expect(statSync(file).mode & 0o777).toBe(0o440);
    execFileSync("visudo", ["-cf", file]);
  });

  it("writes nothing when visudo refuses the text", () => {
    const dir = tempDir();
    expect(() => installSudoersDropIn(join(dir, "cortex-x"), "this is not sudoers syntax ALL=\n")).toThrow(/visudo refused/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("sudoViolation, the early lexical refusal at tier sudo", () => {
  it("allows what the sudoers drop-in allows: options with values, --, environment assignments, absolute paths", () => {
    for (const command of [
      "sudo apt-get install -y curl",
      "sudo -u root apt-get --version",
      "sudo -n apt-get update",
      "sudo -nu root apt-get update",
      "sudo -uroot apt-get update",
      "sudo --user=root npm --version",
      "sudo --user root pip3 list",
      "sudo -- apt --version",
      "sudo -n -- apt-get --version",
      "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y curl",
      "sudo -n DEBIAN_FRONTEND=noninteractive apt-get -q update",
      "sudo /usr/bin/apt-get --version",
      "sudo -l",
      "sudo -k",
      "echo hi && sudo -n apt-get --version; sudo pip install x",
      "sudo 'apt-get' --version",
    ]) {
      expect(sudoViolation(command), command).toBeNull();
    }
  });

  it("refuses sudo for any other program, shells, editors and user switching", () => {
    expect(sudoViolation("sudo rm -rf /")).toContain('got "sudo rm"');
    expect(sudoViolation("sudo -u root rm -rf /")).toContain('got "sudo rm"');
    expect(sudoViolation("sudo -n -- bash")).toContain('got "sudo bash"');
    expect(sudoViolation("sudo FOO=1 /bin/sh -c id")).toContain('got "sudo /bin/sh"');
    expect(sudoViolation("sudo -s")).toContain("runs a shell");
    expect(sudoViolation("sudo -i apt-get")).toContain("runs a shell");
    expect(sudoViolation("sudo --login")).toContain("runs a shell");
    expect(sudoViolation("sudo -e /etc/shadow")).toContain("runs a shell or an editor");
    expect(sudoViolation("sudo -u root")).toContain("without a command");
    expect(sudoViolation("apt-get --version; sudo id")).toContain('got "sudo id"');
    expect(sudoViolation("su - root -c id")).toContain("switching user");
  });
});
