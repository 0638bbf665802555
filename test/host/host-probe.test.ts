import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capturedHostProbe, nodeHostProbe } from "../../src/host/host-probe.js";

function fakeProc(t: { after(fn: () => void): void }): string {
  const proc = mkdtempSync(join(tmpdir(), "vfio-proc-"));
  t.after(() => rmSync(proc, { recursive: true, force: true }));
  mkdirSync(join(proc, "net"));
  mkdirSync(join(proc, "self"));
  writeFileSync(join(proc, "net/route"),
    "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n" +
    "eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\nlo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n");
  writeFileSync(join(proc, "net/ipv6_route"),
    "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1\n");
  writeFileSync(join(proc, "self/mountinfo"),
    "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw\n23 22 0:21 / /proc rw shared:2 - proc proc rw\n" +
    "24 22 0:45 / /mnt/my\\040repo rw,relatime - 9p repo rw,trans=virtio\nnot a mount line\n");
  writeFileSync(join(proc, "swaps"), "Filename\tType\tSize\tUsed\tPriority\n/nonexistent/swapfile\tfile\t1024\t0\t-2\n");
  mkdirSync(join(proc, "4242/fd"), { recursive: true });
  writeFileSync(join(proc, "4242/comm"), "qemu-system-x86\n");
  symlinkSync("/dev/vfio/7", join(proc, "4242/fd/12"));
  symlinkSync("/dev/null", join(proc, "4242/fd/0"));
  mkdirSync(join(proc, "99/fd"), { recursive: true });
  return proc;
}

test("nodeHostProbe() counts IPv4 and IPv6 routes per interface", async (t) => {
  const probe = nodeHostProbe(fakeProc(t));
  assert.equal(await probe.interfaceRoutes("eth0"), 2);
  assert.equal(await probe.interfaceRoutes("eth1"), 1);
  assert.equal(await probe.interfaceRoutes("eth9"), 0);
});

test("nodeHostProbe() reads the mounts from mountinfo and skips vanished swap files", async (t) => {
  const probe = nodeHostProbe(fakeProc(t));
  assert.deepEqual((await probe.mounts()).map((m) => [m.device, m.fstype, m.source, m.mountPoint]), [
    ["259:1", "ext4", "/dev/nvme0n1p1", "/"], ["0:21", "proc", "proc", "/proc"], ["0:45", "9p", "repo", "/mnt/my repo"],
  ]);
  assert.deepEqual([...(await probe.swapDevices())], []);
});

test("capturedHostProbe() takes IPv6 addresses from if_inet6, swap devices by name, and stats nothing", async (t) => {
  const proc = fakeProc(t);
  writeFileSync(join(proc, "net/if_inet6"),
    "fe8000000000000000fc00fffe000001 02 40 20 80     eth0\n00000000000000000000000000000001 01 80 10 80       lo\nfd000000000000000000000000000002 02 40 00 82     eth0\n");
  writeFileSync(join(proc, "swaps"), "Filename\tType\tSize\tUsed\tPriority\n/dev/vda2\tpartition\t1024\t0\t-2\n");
  const probe = capturedHostProbe(proc);
  assert.deepEqual(await probe.interfaceAddresses("eth0"), ["fe80:0:0:0:fc:ff:fe00:1", "fd00:0:0:0:0:0:0:2"]);
  assert.deepEqual(await probe.interfaceAddresses("eth9"), []);
  assert.deepEqual([...(await probe.swapDevices())], ["vda2"]);
  assert.equal((await probe.mounts())[0]!.sourceDevice, undefined);
  assert.deepEqual(await probe.openers("/dev/vfio/7"), ["4242 (qemu-system-x86)"]);
});

test("nodeHostProbe() finds the process holding a path open", async (t) => {
  const probe = nodeHostProbe(fakeProc(t));
  assert.deepEqual(await probe.openers("/dev/vfio/7"), ["4242 (qemu-system-x86)"]);
  assert.deepEqual(await probe.openers("/dev/vfio/8"), []);
});
