// Measures, inside the test guest, which drivers make an IOMMU group viable for VFIO on the
// running kernel, and writes what it saw to test/fixtures/guest/viability-linux-<major.minor>.json.
// Run it through scripts/guest/viability (which adds the ACS-less root port used below).
//
// Linux 6.1 (drivers/vfio/vfio_main.c, vfio_group_ioctl_get_status) reports VIABLE when the group
// is already in a container or when iommu_group_dma_owner_claimed() is false, i.e. no device of
// the group is bound to a driver without `driver_managed_dma`. This script checks that claim
// against the real kernel rather than trusting it: it sets up each driver combination through
// sysfs and asks the kernel with VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER and
// VFIO_GROUP_GET_DEVICE_FD.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { libcLibrary, koffi } from "../../dist/src/native/ffi.js";
import { struct, u32, i32 } from "../../dist/src/abi/struct.js";
import { VFIO_GROUP_FLAGS_VIABLE, VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_TYPE1v2_IOMMU } from "../../dist/src/api/constants.js";

// include/uapi/linux/vfio.h: VFIO_TYPE ';', VFIO_BASE 100; all of these are _IO(type, nr).
const io = (nr) => (0x3b << 8) | (100 + nr);
const VFIO_SET_IOMMU = io(2);
const VFIO_GROUP_GET_STATUS = io(3);
const VFIO_GROUP_SET_CONTAINER = io(4);
const VFIO_GROUP_GET_DEVICE_FD = io(6);
const groupStatus = struct("vfio_group_status", { argsz: u32, flags: u32 });
const fdArg = struct("int", { fd: i32 });

const libc = libcLibrary();
const open = libc.func("int open(const char *path, int flags)");
const close = libc.func("int close(int fd)");
const ioctl = libc.func("int ioctl(int fd, unsigned long req, void *arg)");
const ioctlNum = libc.func("int ioctl(int fd, unsigned long req, unsigned long arg)");
const errnoName = Object.fromEntries(Object.entries(koffi().os.errno).map(([k, v]) => [v, k]));
const O_RDWR = 2;

/** Result of a system call: "ok" or the errno name (what the kernel answered). */
function sys(ret) {
  return ret < 0 ? errnoName[koffi().errno()] ?? `errno ${koffi().errno()}` : "ok";
}

const PCI = "/sys/bus/pci/devices";
const driverOf = (a) => (existsSync(`${PCI}/${a}/driver`) ? basename(readlinkSync(`${PCI}/${a}/driver`)) : null);
const groupOf = (a) => basename(readlinkSync(`${PCI}/${a}/iommu_group`));
const members = (g) => readdirSync(`/sys/kernel/iommu_groups/${g}/devices`).sort();

/** A sysfs write; returns "ok" or the errno code the kernel gave the write. */
function sysfsWrite(path, value) {
  try {
    writeFileSync(path, value);
    return "ok";
  } catch (e) {
    return e.code ?? String(e);
  }
}

function unbind(a) {
  return existsSync(`${PCI}/${a}/driver`) ? sysfsWrite(`${PCI}/${a}/driver/unbind`, a) : "ok";
}

/** Binds by driver_override + drivers_probe (as scripts/guest/init binds); returns the write results and the driver that ended up bound. */
function bind(a, driver) {
  const steps = { unbind: unbind(a), override: sysfsWrite(`${PCI}/${a}/driver_override`, driver) };
  steps.probe = sysfsWrite("/sys/bus/pci/drivers_probe", a);
  sysfsWrite(`${PCI}/${a}/driver_override`, "\n");
  return { ...steps, boundTo: driverOf(a) };
}

/** Opens /dev/vfio/<group>, asks GET_STATUS, then tries a container and a device fd; closes all. */
function probeGroup(group, device) {
  const out = { group, drivers: Object.fromEntries(members(group).map((m) => [m, driverOf(m)])) };
  const gfd = open(`/dev/vfio/${group}`, O_RDWR);
  out.open = sys(gfd);
  if (gfd < 0) return out;
  const st = new Uint8Array(groupStatus.size);
  groupStatus.encode({ argsz: groupStatus.size, flags: 0 }, st, 0);
  out.getStatus = sys(ioctl(gfd, VFIO_GROUP_GET_STATUS, st));
  const { flags } = groupStatus.decode(st, 0);
  out.flags = flags;
  out.viable = (flags & VFIO_GROUP_FLAGS_VIABLE) !== 0;
  out.containerSet = (flags & VFIO_GROUP_FLAGS_CONTAINER_SET) !== 0;
  const cfd = open("/dev/vfio/vfio", O_RDWR);
  const arg = new Uint8Array(fdArg.size);
  fdArg.encode({ fd: cfd }, arg, 0);
  out.setContainer = sys(ioctl(gfd, VFIO_GROUP_SET_CONTAINER, arg));
  if (out.setContainer === "ok") {
    out.setIommu = sys(ioctlNum(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
    const dfd = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, Buffer.from(`${device}\0`));
    out.getDeviceFd = sys(dfd);
    if (dfd >= 0) close(dfd);
  }
  close(gfd);
  close(cfd);
  return out;
}

const BRIDGE = "0000:00:04.0", EDU = "0000:01:01.0", NIC = "0000:01:02.0";
const RP = "0000:00:08.0", RP_EDU = "0000:03:00.0"; // pcie-root-port,disable-acs=on + edu
const kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
const cases = [];
const record = (name, setup, group, device) => {
  const r = { name, setup, ...probeGroup(group, device) };
  cases.push(r);
  console.log(JSON.stringify(r));
};

const g = groupOf(EDU);
record("e1000 bound to e1000", {}, g, EDU);
record("e1000 unbound (no driver)", { unbindNic: unbind(NIC) }, g, EDU);
const stub = `/lib/modules/${kernel}/pci-stub.ko`;
execFileSync("insmod", [stub]);
record("e1000 bound to pci-stub", { bindNic: bind(NIC, "pci-stub") }, g, EDU);
record("e1000 bound to vfio-pci", { bindNic: bind(NIC, "vfio-pci") }, g, EDU);
record("e1000 on vfio-pci, bridge bound to pci-stub", { bindBridge: bind(BRIDGE, "pci-stub") }, g, EDU);
record("e1000 on vfio-pci, bridge bound to shpchp (try)", { bindBridge: bind(BRIDGE, "shpchp") }, g, EDU);
record("e1000 on vfio-pci, bridge unbound", { unbindBridge: unbind(BRIDGE) }, g, EDU);
record("e1000 bound to e1000 again", { bindNic: bind(NIC, "e1000") }, g, EDU);

// While the group is in a container, a DMA-claiming driver must not be able to bind.
unbind(NIC);
{
  const gfd = open(`/dev/vfio/${g}`, O_RDWR);
  const cfd = open("/dev/vfio/vfio", O_RDWR);
  const arg = new Uint8Array(fdArg.size);
  fdArg.encode({ fd: cfd }, arg, 0);
  const setContainer = sys(ioctl(gfd, VFIO_GROUP_SET_CONTAINER, arg));
  const attempt = bind(NIC, "e1000");
  const st = new Uint8Array(groupStatus.size);
  groupStatus.encode({ argsz: groupStatus.size, flags: 0 }, st, 0);
  ioctl(gfd, VFIO_GROUP_GET_STATUS, st);
  const r = {
    name: "group in a container, then e1000 bound to e1000 (try)",
    setup: { setContainer, bindNic: attempt },
    group: g, flags: groupStatus.decode(st, 0).flags,
    drivers: Object.fromEntries(members(g).map((m) => [m, driverOf(m)])),
  };
  close(gfd);
  close(cfd);
  r.afterClose = { bindNic: bind(NIC, "e1000") };
  cases.push(r);
  console.log(JSON.stringify(r));
}

if (existsSync(`${PCI}/${RP}`) && existsSync(`${PCI}/${RP_EDU}`)) {
  const rg = groupOf(RP_EDU);
  record("PCIe root port without ACS bound to pcieport, its edu on vfio-pci", {}, rg, RP_EDU);
  record("PCIe root port without ACS unbound", { unbindPort: unbind(RP) }, rg, RP_EDU);
}
record("PCIe root port with ACS (pcieport): the edu behind it", {}, groupOf("0000:02:00.0"), "0000:02:00.0");

const out = `test/fixtures/guest/viability-linux-${kernel.split(".").slice(0, 2).join(".")}.json`;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({
  kernel,
  producedBy: "scripts/guest/viability (QEMU q35 TCG, intel-iommu; topology in scripts/guest/README.md)",
  method: "VFIO_GROUP_GET_STATUS flags (bit 0 VIABLE, bit 1 CONTAINER_SET) on a fresh open of /dev/vfio/<group>, then VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU(TYPE1v2), VFIO_GROUP_GET_DEVICE_FD; errno names as koffi.os.errno gives them; sysfs writes report the write's error code",
  cases,
}, null, 2) + "\n");
console.log(`wrote ${out}`);
