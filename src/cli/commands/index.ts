/** Every `vfio` subcommand, in the order `vfio --help` lists them. */
import type { Command } from "../command.js";
import { infoCommand } from "./info.js";
import { serveCommand } from "./serve.js";

export const commands: readonly Command[] = [infoCommand, serveCommand];
