/**
 * `vfio ls --html FILE`, as a person sees it: the page for the Linux 6.1 guest's capture is
 * loaded in headless Chromium (Debian's chromium; .ci/run installs it), a probe script reads
 * what is rendered (innerText, computed colours), and a screenshot is kept in
 * .cache/test-output/topology.png to look at. Skips, saying so, where chromium is absent.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { fixturePath, repoPath } from "../helpers/fixtures.js";
import { vfio } from "../helpers/run-cli.js";

const guest = fixturePath("sysfs/guest-q35-e1000-bound");
const work = mkdtempSync(join(tmpdir(), "vfio-html-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

const chromium = ["chromium", "chromium-browser", "google-chrome"].find((c) => spawnSync(c, ["--version"], { encoding: "utf8" }).status === 0);
// As root Chromium needs --no-sandbox; no GPU and no network on a test machine.
const HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions", "--mute-audio"];

function runChromium(args: readonly string[]): string {
  const r = spawnSync(chromium!, [...HEADLESS, `--user-data-dir=${join(work, "profile")}`, ...args], { encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `${chromium} ${args.join(" ")}: ${r.error ?? ""}\n${r.stderr}`);
  return r.stdout;
}

/** What the probe reports of each group box and of the tree. */
interface Seen {
  readonly groups: { id: string; text: string; verdict: string; verdictBackground: string; width: number }[];
  readonly tree: string;
  readonly scripts: number;
}

/** Reads the rendered page: each group box's visible text and verdict colour, the tree's text. */
const PROBE = `<script>
addEventListener("load", () => {
  const seen = {
    groups: [...document.querySelectorAll("article.group")].map((g) => ({
      id: g.dataset.group, text: g.innerText, verdict: g.querySelector(".verdict").innerText,
      verdictBackground: getComputedStyle(g.querySelector(".verdict")).backgroundColor, width: g.getBoundingClientRect().width,
    })),
    tree: document.querySelector(".tree").innerText,
    scripts: document.scripts.length,
  };
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(seen);
  document.body.append(out);
});
</script>`;

async function writePage(): Promise<{ page: string; ls: { groups: { id: number; viable: boolean; blockers: { device: string; driver: string }[] }[]; devices: { address: string }[] } }> {
  const page = join(work, "topology.html");
  const c = await vfio(["ls", "--sysfs", guest, "--html", page]);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /^Wrote .*topology\.html: 8 IOMMU groups, 12 PCI functions\.\n$/);
  return { page, ls: JSON.parse((await vfio(["ls", "--sysfs", guest, "--json"])).stdout) };
}

test("the page is one self-contained file: no script, nothing fetched", async () => {
  const { page } = await writePage();
  const html = readFileSync(page, "utf8");
  assert.doesNotMatch(html, /<script|<link|<img|@import|url\(|https?:\/\//i);
  assert.match(html, /^<!doctype html>/);
});

test("in Chromium: every group is a box, the non-viable ones marked and their blockers named, every function in the tree", { skip: chromium ? false : "chromium is not installed (apt-get install chromium; .ci/run does)" }, async () => {
  const { page, ls } = await writePage();
  const probed = join(work, "probed.html");
  writeFileSync(probed, readFileSync(page, "utf8").replace("</body>", `${PROBE}</body>`));
  const dom = runChromium(["--virtual-time-budget=5000", "--dump-dom", pathToFileURL(probed).href]);
  const json = /<pre id="probe">([^<]*)<\/pre>/.exec(dom)?.[1];
  assert.ok(json, "the probe ran");
  const seen = JSON.parse(json.replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")) as Seen;
  assert.equal(seen.scripts, 1, "only the probe: the page itself has none");

  assert.deepEqual(seen.groups.map((g) => Number(g.id)), ls.groups.map((g) => g.id));
  const red = "rgb(198, 40, 40)";
  for (const group of ls.groups) {
    const box = seen.groups.find((g) => Number(g.id) === group.id)!;
    assert.ok(box.width > 200, `group ${group.id} is laid out`);
    assert.match(box.text, new RegExp(`Group ${group.id}\\b`));
    if (group.viable) {
      assert.match(box.verdict, /^viable$/i);
      assert.notEqual(box.verdictBackground, red);
    } else {
      assert.match(box.verdict, /^not viable$/i);
      assert.equal(box.verdictBackground, red, `group ${group.id}'s verdict is red`);
      for (const b of group.blockers) assert.match(box.text, new RegExp(`Blocked by ${b.device.replace(/\./g, "\\.")} on ${b.driver}`));
    }
  }
  assert.deepEqual(ls.groups.filter((g) => !g.viable).map((g) => g.id), [2, 5], "the capture has two blocked groups");
  for (const { address } of ls.devices) assert.match(seen.tree, new RegExp(address.replace(/\./g, "\\.")));
  assert.match(seen.tree, /PCI-to-PCI bridge, no isolation: the functions behind it share its group 2/);
  assert.match(seen.tree, /PCIe port, ACS: the functions below it have groups of their own/);

  const shots = repoPath(".cache/test-output");
  mkdirSync(shots, { recursive: true });
  const png = join(shots, "topology.png");
  runChromium(["--window-size=1280,1900", `--screenshot=${png}`, pathToFileURL(page).href]);
  assert.deepEqual([...readFileSync(png).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG");
  assert.ok(statSync(png).size > 20_000, "with something drawn on it");
});

test("--html on a machine without an IOMMU says so; on the emulated machine it shows its groups; bad uses are usage errors", async () => {
  const none = join(work, "none.html");
  assert.equal((await vfio(["ls", "--sysfs", fixturePath("sysfs/host-no-iommu"), "--html", none])).status, 0);
  assert.match(readFileSync(none, "utf8"), /No IOMMU is active: /);
  const emulated = join(work, "emulated.html");
  assert.equal((await vfio(["ls", "--emulated", "--html", emulated])).status, 0);
  assert.match(readFileSync(emulated, "utf8"), /data-group="2" data-viable="false"/);
  assert.equal((await vfio(["ls", "--html", emulated, "--json", "--emulated"])).status, 2);
  assert.equal((await vfio(["ls", "--html=", "--emulated"])).status, 2);
  const unwritable = await vfio(["ls", "--emulated", "--html", join(work, "missing-dir", "x.html")]);
  assert.equal(unwritable.status, 1);
  assert.match(unwritable.stderr, /^vfio ls: open on .*x\.html failed: ENOENT: [^\n]+\n$/);
});
