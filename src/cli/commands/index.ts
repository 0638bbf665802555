/** Every `vfio` subcommand, in the order `vfio --help` lists them. */
import type { Command } from "../command.js";

export const commands: readonly Command[] = [];
