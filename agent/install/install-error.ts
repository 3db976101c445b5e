/** Something that stops an install or uninstall before it changes anything, or says what is left to fix by hand. */
export class InstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InstallError";
  }
}
