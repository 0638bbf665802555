#!/usr/bin/env node
// The `vfio` command. A committed file with mode 0755, outside dist/: `npm run build` empties
// dist/, and a bin inside it would lose the executable bit that `npm install -g .` links to.
import "../dist/src/cli/main.js";
