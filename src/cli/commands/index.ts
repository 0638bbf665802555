/** Every `vfio` subcommand, in the order `vfio --help` lists them. */
import type { Command } from "../command.js";
import { bind } from "./bind.js";
import { checkCommand } from "./check.js";
import { demoCommand } from "./demo.js";
import { infoCommand } from "./info.js";
import { lsCommand } from "./ls.js";
import { nvmeCommand } from "./nvme.js";
import { passthrough } from "./passthrough.js";
import { restore } from "./restore.js";
import { serveCommand } from "./serve.js";
import { unpersist } from "./unpersist.js";

export const commands: readonly Command[] = [
  demoCommand, lsCommand, checkCommand, infoCommand(), bind, restore, unpersist, passthrough, serveCommand, nvmeCommand,
];
