/** Every `vfio` subcommand, in the order `vfio --help` lists them. */
import type { Command } from "../command.js";
import { infoCommand } from "./info.js";

export const commands: readonly Command[] = [infoCommand()];
