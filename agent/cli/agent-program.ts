import { addConnectCommand } from "./connect-command.ts";
import type { CliIo } from "./io.ts";
import { baseProgram, nodeCommand, runProgram } from "./program-base.ts";

/** Whether `argv` runs the agent: `cortex node connect ...`, what an installed agent's service starts. */
export function runsAgent(argv: readonly string[]): boolean {
  return argv[0] === "node" && argv[1] === "connect";
}

/**
 * `cortex node connect` with the one command it needs. The agent stays up as long as the machine, so it does not
 * carry the rest of the CLI (its commands, their schemas and libraries) in memory; parsing, help and errors are the
 * full program's, since both are built from the same base and the same connect command.
 */
export function runAgentProgram(argv: string[], io: CliIo): Promise<number> {
  const { program, cli } = baseProgram(io);
  addConnectCommand(nodeCommand(program), cli);
  return runProgram(program, cli, argv, io);
}
