import type { Command } from "commander";
import { addAgentCommands } from "./agent-commands.ts";
import { addAutonomyCommands } from "./autonomy-commands.ts";
import { addChatCommands, addLlmCommands } from "./chat-commands.ts";
import type { CliContext } from "./cli-context.ts";
import { addConnectCommand } from "./connect-command.ts";
import { addDirectiveCommands } from "./directive-commands.ts";
import { addToolCommands } from "./tool-commands.ts";
import { addExecCommand } from "./exec-command.ts";
import { addFileCommands } from "./file-commands.ts";
import { addLoginCommands } from "./login-command.ts";
import type { CliIo } from "./io.ts";
import { addNodeCommands } from "./node-commands.ts";
import { addProcessCommands } from "./process-commands.ts";
import { addRoostCommands } from "./roost-commands.ts";
import { addRunCommands } from "./run-commands.ts";
import { baseProgram, nodeCommand, runProgram } from "./program-base.ts";

/** The whole `cortex` command tree, writing through `io` and recording its exit code in the returned context. */
export function buildProgram(io: CliIo): { program: Command; cli: CliContext } {
  const { program, cli } = baseProgram(io);
  const node = nodeCommand(program);
  addNodeCommands(node, cli);
  addConnectCommand(node, cli);
  addExecCommand(program, cli);
  addFileCommands(program, cli);
  addRunCommands(program, cli);
  addProcessCommands(program, cli);
  addDirectiveCommands(program, cli);
  addToolCommands(program, cli);
  addLoginCommands(program, cli);
  addChatCommands(program, cli);
  addLlmCommands(program, cli);
  addAgentCommands(program, cli);
  addRoostCommands(program, cli);
  addAutonomyCommands(program, cli);
  return { program, cli };
}

/** Runs the CLI on `argv` (the arguments after `cortex`) and returns the process exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const { program, cli } = buildProgram(io);
  return runProgram(program, cli, argv, io);
}
