/**
 * Error identity: one failure gives one errno on every backend. A mapping used after unmap, a
 * region write crossing the region's end, a closed DMA space; and the MSI-X table as vfio-pci
 * hides it from region access (vfio_pci_bar_rw) but not from a mapping (msix_mappable_cap).
 */
import { ContainerDmaSpace } from "../../../src/api/container-dma-space.js";
import { EDU_ROOT, NVME, containerWith, openDevice, read16, write16 } from "../fixture.js";
import type { Scenario } from "../scenario.js";

const CONFIG = 7;
const EDU_BAR0_SIZE = 0x100000;
/** QEMU's NVMe: MSI-X table at BAR0 + 0x2000, PBA at + 0x3000. */
const NVME_TABLE = 0x2000;
const NVME_PBA = 0x3000;

export const errorScenarios: readonly Scenario[] = [
  {
    id: "errors.mapping-after-unmap",
    title: "A BAR mapping used after unmap() fails with EFAULT, reads and writes alike",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      await write16(device, CONFIG, 0x04, (await read16(device, CONFIG, 0x04)) | 0x2);
      const mapping = await device.mapRegion(0, 0n, 4096n);
      ctx.record("id_low", mapping.read32(0) & 0xffff);
      mapping.unmap();
      await ctx.attempt("read32", async () => mapping.read32(0));
      await ctx.attempt("write32", async () => mapping.write32(4, 1));
      await ctx.attempt("read64", async () => mapping.read64(0));
    },
  },
  {
    id: "errors.region-write-crossing-end",
    title: "A region write crossing the BAR's end fails with EINVAL; a read is cut short; at the end both are EINVAL",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      await write16(device, CONFIG, 0x04, (await read16(device, CONFIG, 0x04)) | 0x2);
      await ctx.attempt("write_across", () => device.write(0, BigInt(EDU_BAR0_SIZE - 4), new Uint8Array(8)));
      const read = await ctx.attempt("read_across", () => device.read(0, BigInt(EDU_BAR0_SIZE - 4), 8));
      ctx.record("read_across_length", read?.length ?? null);
      await ctx.attempt("write_at_end", () => device.write(0, BigInt(EDU_BAR0_SIZE), new Uint8Array(4)));
      await ctx.attempt("read_at_end", () => device.read(0, BigInt(EDU_BAR0_SIZE), 4));
      await ctx.attempt("config_write_across", () => device.write(CONFIG, 0xfen, new Uint8Array(4)));
    },
  },
  {
    id: "errors.closed-dma-space",
    title: "Allocating from a closed DMA space fails with EBADF",
    async run(ctx) {
      const { container } = await containerWith(ctx, EDU_ROOT);
      const dma = new ContainerDmaSpace(ctx.system, container);
      const buffer = await dma.allocate(4096);
      ctx.record("allocated", buffer.size);
      await dma.close();
      await ctx.attempt("allocate", () => dma.allocate(4096));
      await ctx.attempt("close_again", () => dma.close());
    },
  },
  {
    id: "region.nvme-msix-table",
    title: "The NVMe's MSI-X table: region reads give all-ones and writes are dropped; a mapping shows the host's masking; the PBA reads",
    async run(ctx) {
      const { device } = await openDevice(ctx, NVME);
      await write16(device, CONFIG, 0x04, (await read16(device, CONFIG, 0x04)) | 0x6);
      const n = device.createNotifier();
      ctx.defer(() => n.close());
      await ctx.attempt("msix_enable", () => device.setIrqs({ flags: 0x4 | 0x20, index: 2, start: 0, count: 1, notifiers: [n] }));
      ctx.record("table_pread", await device.read(0, BigInt(NVME_TABLE), 16));
      await ctx.attempt("table_pwrite", () => device.write(0, BigInt(NVME_TABLE + 12), Uint8Array.of(1, 0, 0, 0)));
      ctx.record("pba_pread", await device.read(0, BigInt(NVME_PBA), 8));
      const mapping = await device.mapRegion(0, 0n, 0x4000n);
      ctx.defer(() => mapping.unmap());
      ctx.record("vector0_masked", mapping.read32(NVME_TABLE + 12) & 1);
      ctx.record("vector1_masked", mapping.read32(NVME_TABLE + 16 + 12) & 1);
      ctx.record("pba_mapped", mapping.read32(NVME_PBA));
      await ctx.attempt("msix_disable", () => device.setIrqs({ flags: 0x1 | 0x20, index: 2, start: 0, count: 0 }));
    },
  },
];
