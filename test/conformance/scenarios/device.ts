/** Device scenarios: info, regions, config space as vfio-pci virtualises it, BAR access rules, reset, mmap. */
import { EDU_PORT, EDU_ROOT, NVME, openDevice, read16, read32, read8, write16, write32 } from "../fixture.js";
import type { Scenario } from "../scenario.js";

const CONFIG = 7;

export const deviceScenarios: readonly Scenario[] = [
  {
    id: "device.info",
    title: "VFIO_DEVICE_GET_INFO: PCI, 9 regions, 5 IRQs; RESET only where Linux has a reset method",
    async run(ctx) {
      const root = await openDevice(ctx, EDU_ROOT);
      ctx.record("root", await root.device.info());
      const port = await openDevice(ctx, EDU_PORT);
      ctx.record("port", await port.device.info());
    },
  },
  {
    id: "device.region-info",
    title: "VFIO_DEVICE_GET_REGION_INFO for every index: BAR0 mmap-able, config 256 bytes, no ROM, VGA and past the end EINVAL",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      for (let index = 0; index <= 9; index++) {
        const info = await ctx.attempt(`region${index}`, () => device.regionInfo(index));
        if (info) ctx.record(`region${index}.info`, { flags: info.flags, size: info.size, offset: info.offset, caps: info.caps.length });
      }
      await ctx.attempt("negative", () => device.regionInfo(-1));
    },
  },
  {
    id: "device.config-header",
    title: "Config space through vfio-pci: identity, class, header type, capability list, MSI capability, pin",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      ctx.record("id", await read32(device, CONFIG, 0x00));
      ctx.record("class_rev", await read32(device, CONFIG, 0x08));
      ctx.record("header_type", await read8(device, CONFIG, 0x0e));
      ctx.record("status_cap_list", (await read16(device, CONFIG, 0x06)) & 0x10);
      ctx.record("command_mem_master_intxdis", (await read16(device, CONFIG, 0x04)) & 0x406);
      const cap = await read8(device, CONFIG, 0x34);
      ctx.record("cap_ptr", cap);
      ctx.record("cap_id_next", await read16(device, CONFIG, cap));
      ctx.record("msi_flags", await read16(device, CONFIG, cap + 2));
      ctx.record("pin", await read8(device, CONFIG, 0x3d));
      ctx.record("bar0_flags", (await read32(device, CONFIG, 0x10)) & 0xf);
      ctx.record("subsystem", await read32(device, CONFIG, 0x2c));
    },
  },
  {
    id: "device.bar-sizing",
    title: "BAR sizing through the virtual BARs: all-ones reads back the size mask; unimplemented BARs read 0",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      const original = await read32(device, CONFIG, 0x10);
      await write32(device, CONFIG, 0x10, 0xffffffff);
      ctx.record("bar0", await read32(device, CONFIG, 0x10));
      await write32(device, CONFIG, 0x10, original);
      ctx.record("bar0_restored", (await read32(device, CONFIG, 0x10)) === original);
      await write32(device, CONFIG, 0x14, 0xffffffff);
      ctx.record("bar1", await read32(device, CONFIG, 0x14));
      await write32(device, CONFIG, 0x30, 0xfffff800);
      ctx.record("rom", await read32(device, CONFIG, 0x30));
      await write16(device, CONFIG, 0x00, 0xbeef);
      ctx.record("vendor_after_write", await read16(device, CONFIG, 0x00));
    },
  },
  {
    id: "device.config-bounds",
    title: "Config accesses past the end of config space fail with EFAULT",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      await ctx.attempt("at_end", () => device.read(CONFIG, 0x100n, 4));
      await ctx.attempt("straddle", () => device.read(CONFIG, 0xfen, 4));
      await ctx.attempt("last_byte", () => device.read(CONFIG, 0xffn, 1));
      await ctx.attempt("write_past", () => device.write(CONFIG, 0x100n, Uint8Array.of(0)));
    },
  },
  {
    id: "device.bar-bounds",
    title: "BAR reads past the end are EINVAL; a read crossing the end is cut short",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      await ctx.attempt("past_end", () => device.read(0, 0x100000n, 4));
      const tail = await ctx.attempt("crossing_end", () => device.read(0, 0xffffen, 4));
      ctx.record("crossing_length", tail?.length ?? null);
      await ctx.attempt("bar1", () => device.read(1, 0n, 4));
      await ctx.attempt("rom", () => device.read(6, 0n, 4));
      await ctx.attempt("rom_write", () => device.write(6, 0n, Uint8Array.of(0)));
      await ctx.attempt("vga", () => device.read(8, 0n, 4));
      await ctx.attempt("index9", () => device.read(9, 0n, 4));
    },
  },
  {
    id: "device.bar-memory-disabled",
    title: "With Memory Space Enable cleared, BAR access through the region fails with EIO",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      const cmd = await read16(device, CONFIG, 0x04);
      await ctx.attempt("enabled", () => device.read(0, 0n, 4));
      await write16(device, CONFIG, 0x04, cmd & ~0x2);
      await ctx.attempt("disabled", () => device.read(0, 0n, 4));
      await write16(device, CONFIG, 0x04, cmd | 0x2);
      await ctx.attempt("re_enabled", () => device.read(0, 0n, 4));
    },
  },
  {
    id: "device.irq-info",
    title: "VFIO_DEVICE_GET_IRQ_INFO: INTx maskable+automasked, one MSI vector, no MSI-X, no ERR on conventional PCI, REQ",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      for (let index = 0; index <= 5; index++) {
        const info = await ctx.attempt(`irq${index}`, () => device.irqInfo(index));
        if (info) ctx.record(`irq${index}.info`, { flags: info.flags, count: info.count });
      }
    },
  },
  {
    id: "device.reset",
    title: "VFIO_DEVICE_RESET: EINVAL on the root-bus edu (no reset method), works behind the root port (bus reset)",
    async run(ctx) {
      const root = await openDevice(ctx, EDU_ROOT);
      await ctx.attempt("root", () => root.device.reset());
      const port = await openDevice(ctx, EDU_PORT);
      await ctx.attempt("port", () => port.device.reset());
      ctx.record("port_id_after", await read32(port.device, 0, 0));
    },
  },
  {
    id: "device.mmap",
    title: "Only mmap-able BARs map, page-aligned and within the BAR",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      const m = await ctx.attempt("bar0", () => device.mapRegion(0));
      if (m) {
        ctx.record("bar0_size", m.size);
        ctx.record("bar0_id", m.read32(0));
        m.unmap();
      }
      await ctx.attempt("bar0_page", async () => device.mapRegion(0, 0x1000n, 0x1000n).then((x) => x.unmap()));
      await ctx.attempt("config", () => device.mapRegion(7, 0n, 256n));
      await ctx.attempt("bar1", () => device.mapRegion(1, 0n, 4096n));
      await ctx.attempt("unaligned", () => device.mapRegion(0, 0x800n, 0x1000n));
      await ctx.attempt("past_end", () => device.mapRegion(0, 0x100000n, 0x1000n));
    },
  },
  {
    id: "device.nvme-caps",
    title: "A PCI Express device with MSI-X: the table's BAR carries the MSIX_MAPPABLE cap; 4 KiB config; MSI-X and ERR IRQs",
    async run(ctx) {
      const { device } = await openDevice(ctx, NVME);
      ctx.record("info", await device.info());
      for (const index of [0, 1, 6, 7]) {
        const info = await device.regionInfo(index);
        ctx.record(`region${index}`, { flags: info.flags, size: info.size, caps: info.caps.map((c) => ({ id: c.id, kind: c.kind, version: c.version })) });
      }
      for (let index = 0; index <= 4; index++) {
        const info = await device.irqInfo(index);
        ctx.record(`irq${index}`, { flags: info.flags, count: info.count });
      }
      const n = device.createNotifier();
      ctx.defer(() => n.close());
      await ctx.attempt("msi_none", () => device.setIrqs({ flags: 0x4 | 0x20, index: 1, start: 0, count: 1, notifiers: [n] }));
      await ctx.attempt("msix_enable", () => device.setIrqs({ flags: 0x4 | 0x20, index: 2, start: 0, count: 1, notifiers: [n] }));
      await ctx.attempt("msix_past", () => device.setIrqs({ flags: 0x4 | 0x20, index: 2, start: 64, count: 2, notifiers: [n, n] }));
      await ctx.attempt("msix_disable", () => device.setIrqs({ flags: 0x1 | 0x20, index: 2, start: 0, count: 0 }));
      await ctx.attempt("err_trigger", () => device.setIrqs({ flags: 0x4 | 0x20, index: 3, start: 0, count: 1, notifiers: [n] }));
      await ctx.attempt("config_past_256", () => device.read(7, 0x100n, 4).then(() => undefined));
    },
  },
  {
    id: "device.closed",
    title: "Operations on a closed device fail with EBADF",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      await device.close();
      await device.close();
      await ctx.attempt("info", () => device.info());
      await ctx.attempt("read", () => device.read(7, 0n, 4));
    },
  },
];
