import { edit } from "./edit.ts";
import type { FileAction, FileActionCall, FileActionContext, FileActionName } from "./file-action-context.ts";
import type { ActionOutcome } from "./action-context.ts";
import { globFiles } from "./glob.ts";
import { grep } from "./grep.ts";
import { list } from "./list.ts";
import { logsReadFile } from "./logs-read.ts";
import { read } from "./read.ts";
import { roostActivateFiles, roostDeployFiles } from "./roost-files.ts";
import { write } from "./write.ts";

/** The actions that run inside the action worker. A new file action is added here and to `FILE_ACTION_NAMES`. */
const FILE_ACTIONS: { [N in FileActionName]: FileAction<N> } = {
  read,
  write,
  edit,
  glob: globFiles,
  grep,
  list,
  "logs.read": logsReadFile,
  "roost.deploy": roostDeployFiles,
  "roost.activate": roostActivateFiles,
};

export function performFileAction(call: FileActionCall, ctx: FileActionContext): Promise<ActionOutcome> {
  const action = FILE_ACTIONS[call.action] as FileAction<typeof call.action>;
  return action(call.params as never, ctx);
}
