import { processIo } from "./io.ts";
import { main } from "./program.ts";

// `cortex ... | head` closes stdout early; that is the reader's choice, not an error worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2), processIo());
