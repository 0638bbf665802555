/**
 * Interoperability with libvfio-user, the reference implementation, built from its public
 * source outside this repository. Skipped unless LIBVFIO_USER_BUILD names its meson build
 * directory (the one holding samples/server, samples/client, ...).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import {
  PCI_VENDOR_ID, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_REGION_INFO_FLAG_MMAP,
} from "../../src/api/constants.js";
import { VfioUserClient } from "../../src/user/client.js";
import { tempDir } from "./loopback.js";

const build = process.env["LIBVFIO_USER_BUILD"];
const skip = build === undefined ? "set LIBVFIO_USER_BUILD to a libvfio-user meson build directory to run" : false;

async function waitFor(file: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!existsSync(file)) {
    if (Date.now() > end) throw new Error(`${file} did not appear`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function start(t: import("node:test").TestContext, sample: string, args: string[]): ChildProcess {
  const child = spawn(path.join(build!, "samples", sample), args, { stdio: ["pipe", "pipe", "pipe"] });
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  t.after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
    if (process.env["INTEROP_LOG"]) process.stderr.write(log);
  });
  return child;
}

test("our client against libvfio-user's sample server: regions, sparse mmap, DMA by fd and by message, INTx eventfd", { skip }, async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, "server.sock");
  start(t, "server", ["-v", sock]);
  await waitFor(sock);
  const client = await VfioUserClient.connect(sock);
  t.after(() => client.close());
  assert.equal(client.minor, 2);
  assert.equal(client.serverCaps.maxMsgFds, 8);
  assert.equal(client.twinSocket, true);
  const info = await client.info();
  assert.equal(info.numRegions, 9);
  assert.equal(info.numIrqs, 5);
  const config = await client.read(VFIO_PCI_CONFIG_REGION_INDEX, BigInt(PCI_VENDOR_ID), 4);
  assert.deepEqual([...config], [0xad, 0xde, 0xef, 0xbe]);
  // BAR1: 3 pages, fd-backed, first and last page mmap-able (sparse mmap cap).
  const bar1 = await client.regionInfo(1);
  assert.ok(bar1.flags & VFIO_REGION_INFO_FLAG_MMAP);
  const sparse = bar1.caps.find((c) => c.kind === "sparse-mmap");
  assert.ok(sparse && sparse.kind === "sparse-mmap");
  assert.deepEqual(sparse.areas.map((a) => [a.offset, a.size]), [[0n, 0x1000n], [0x2000n, 0x1000n]]);
  const mapping = await client.mapRegion(1, 0n, 0x1000n);
  mapping.write32(0, 0xfeedf00d);
  // The sample's bar1_access reads from the start of BAR1 whatever the offset.
  const back = await client.read(1, 0n, 4);
  assert.equal(new DataView(back.buffer, back.byteOffset).getUint32(0, true), 0xfeedf00d);
  await assert.rejects(client.mapRegion(1, 0x1000n, 0x1000n), { code: "EINVAL" });
  mapping.unmap();
  // Two DMA windows: the sample writes 'A'..'D' into the second through its mapping and the
  // same into the first with DMA_WRITE messages (then reads them back with DMA_READ).
  const dma0 = await client.allocate(0x4000);
  const dma1 = await client.allocate(0x4000);
  const irq = client.createNotifier();
  t.after(() => irq.close());
  await client.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_INTX_IRQ_INDEX, start: 0, count: 1, notifiers: [irq] });
  // BAR0 is a time_t: writing now+1 arms a timer that fires the IRQ and the DMA.
  const when = new DataView(new ArrayBuffer(8));
  when.setBigInt64(0, BigInt(Math.floor(Date.now() / 1000) + 1), true);
  await client.write(0, 0n, new Uint8Array(when.buffer));
  assert.equal(await irq.next(), 1n);
  const expected = [0, 1, 2, 3].map((i) => 0x41 + i);
  for (const b of [dma0, dma1]) {
    const deadline = Date.now() + 3000;
    while (b.bytes[3 * 1024] !== expected[3] && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual([0, 1, 2, 3].map((i) => b.bytes[i * 1024]), expected);
  }
  await dma0.free();
  await dma1.free();
  await client.reset();
});

test("our client against libvfio-user's gpio-pci-idio-16 and null samples", { skip }, async (t) => {
  const dir = tempDir(t);
  const gpio = path.join(dir, "gpio.sock");
  start(t, "gpio-pci-idio-16", [gpio]);
  await waitFor(gpio);
  for (let round = 0; round < 2; round++) {
    // The gpio sample accepts the next client after one leaves.
    const client = await VfioUserClient.connect(gpio);
    const id = await client.read(VFIO_PCI_CONFIG_REGION_INDEX, 0n, 4);
    assert.deepEqual([...id], [0x4f, 0x49, 0xc8, 0x0d]);
    const bar2 = await client.regionInfo(2);
    assert.equal(bar2.size, 0x100n);
    const v = await client.read(2, 0n, 1);
    assert.equal(v.byteLength, 1);
    await client.close();
  }
  const nul = path.join(dir, "null.sock");
  start(t, "null", [nul]);
  await waitFor(nul);
  const client = await VfioUserClient.connect(nul);
  t.after(() => client.close());
  assert.equal((await client.info()).numRegions, 9);
  await assert.rejects(client.read(0, 0n, 4), { code: "EINVAL" });
});
