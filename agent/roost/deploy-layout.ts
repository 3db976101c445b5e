import { join } from "node:path";

/**
 * What a roost deployment keeps under its folder on a machine:
 *
 *   <path>/current            symlink to versions/<folder>, replaced in one rename
 *   <path>/versions/<folder>  one complete version each (the current one and the kept earlier ones)
 *   <path>/.roost/state.json  which roost, which folders hold which version, which one is current
 *   <path>/.roost/manifests/  the manifest of each kept folder: what its files hold, chunk by chunk
 *   <path>/.roost/cache/      downloaded chunks by hash, until they are part of a version (survives an interruption)
 *   <path>/.roost/staging-*   a version being assembled; never pointed to by `current`
 */
export class DeployLayout {
  constructor(readonly root: string) {}

  get current(): string {
    return join(this.root, "current");
  }

  get versions(): string {
    return join(this.root, "versions");
  }

  get meta(): string {
    return join(this.root, ".roost");
  }

  get state(): string {
    return join(this.meta, "state.json");
  }

  get manifests(): string {
    return join(this.meta, "manifests");
  }

  get cache(): string {
    return join(this.meta, "cache");
  }

  get lock(): string {
    return join(this.meta, "lock");
  }

  folder(name: string): string {
    return join(this.versions, name);
  }

  manifestOf(folder: string): string {
    return join(this.manifests, `${folder}.json`);
  }

  cached(hash: string): string {
    return join(this.cache, hash);
  }

  staging(id: string): string {
    return join(this.meta, `staging-${id}`);
  }

  /** What `current` points to, relative so the whole folder can be moved. */
  link(folder: string): string {
    return join("versions", folder);
  }
}
