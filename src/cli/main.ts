#!/usr/bin/env node
/** The `vfio` command. */
import { runCli } from "./run.js";

// A reader that goes away (`vfio demo | head -1`) is not an error of ours: stop quietly, as
// a program killed by SIGPIPE does (Node ignores SIGPIPE, so the write fails with EPIPE).
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
