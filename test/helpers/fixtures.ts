/** Paths of committed fixtures, from the compiled test's location (dist/test/...). */
import { fileURLToPath } from "node:url";

/** The repository's test/fixtures/<path>, whether run from dist/ or not. */
export function fixturePath(path: string): string {
  const here = fileURLToPath(import.meta.url);
  const repo = here.includes("/dist/test/") ? here.slice(0, here.indexOf("/dist/test/")) : here.slice(0, here.indexOf("/test/"));
  return `${repo}/test/fixtures/${path}`;
}

/** The repository root. */
export function repoPath(path: string): string {
  return fixturePath("").replace(/\/test\/fixtures\/$/, `/${path}`);
}
