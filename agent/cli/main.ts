import { runAgentProgram, runsAgent } from "./agent-program.ts";
import { processIo } from "./io.ts";

// `cortex ... | head` closes stdout early; that is the reader's choice, not an error worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

const argv = process.argv.slice(2);
// The full command tree is loaded only when it is used: the agent, which runs for as long as the machine, needs none of it.
process.exitCode = runsAgent(argv) ? await runAgentProgram(argv, processIo()) : await (await import("./program.ts")).main(argv, processIo());
