/**
 * `npm run fuzz -- --seconds N [--seed S]`: the hostile-client fuzzer (hostile-fuzzer.ts) for
 * as long as asked, one line per phase; exit 1 with the failed check on stderr. Run with
 * --expose-gc (the npm script does) so memory is measured after a collection. Without
 * arguments (the test runner walks this folder) it does nothing.
 */
import { parseArgs } from "node:util";
import { fuzzHostileClients } from "./hostile-fuzzer.js";

const { values } = parseArgs({
  options: { seconds: { type: "string" }, phases: { type: "string" }, seed: { type: "string" }, connections: { type: "string" }, json: { type: "boolean" } },
  strict: true,
});
const number = (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`fuzz: --${name} wants a number, not '${text}'\n`);
    process.exit(2);
  }
  return n;
};

if (values.seconds !== undefined || values.phases !== undefined) {
  const seconds = number("seconds", values.seconds);
  const phases = number("phases", values.phases);
  const connections = number("connections", values.connections);
  const seed = number("seed", values.seed) ?? 0x5eed_2026;
  // The first write to a piped stdout opens an fd of node's own: make it before the baseline.
  if (!values.json) process.stdout.write(`fuzzing hostile clients, seed ${seed}${seconds !== undefined ? `, ${seconds} s` : ""}${phases !== undefined ? `, ${phases} phases` : ""}\n`);
  try {
    const report = await fuzzHostileClients({
      seed,
      ...(seconds !== undefined ? { seconds } : {}),
      ...(phases !== undefined ? { phases } : {}),
      ...(connections !== undefined ? { connectionsPerPhase: connections } : {}),
      onPhase: (phase, check) => {
        if (!values.json) process.stdout.write(`phase ${phase}: fds ${check.fds >= 0 ? "+" : ""}${check.fds}, memory ${(check.memory / 1024).toFixed(0)} KiB over the start\n`);
      },
    });
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${report.connections} hostile connections, ${report.messages} sends, ${report.phases} phases: server alive, no fd or memory left behind\n`);
  } catch (error) {
    process.stderr.write(`fuzz: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
