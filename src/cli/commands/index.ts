/** Every `vfio` subcommand, in the order `vfio --help` lists them. */
import type { Command } from "../command.js";
import { checkCommand } from "./check.js";
import { lsCommand } from "./ls.js";

export const commands: readonly Command[] = [lsCommand, checkCommand];
