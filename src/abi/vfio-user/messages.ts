/**
 * The payload layouts of every vfio-user command, as data (spec §"Commands"; libvfio-user
 * include/vfio-user.h). All packed and host-endian; offsets are from the end of the header.
 * Trailing variable parts (JSON, data bytes, fds-described arrays) follow the fixed layout.
 */
import { struct, u16, u32, u64, bytes, type Infer } from "../struct.js";

/** VERSION request and reply: major, minor, then optional NUL-terminated JSON (§"Version"). */
export const versionLayout = struct("vfio_user_version", { major: u16, minor: u16 }, { packed: true });
export type VersionWire = Infer<typeof versionLayout>;

/** DMA_MAP request (§"VFIO_USER_DMA_MAP"); at most one fd rides with it. */
export const dmaMapLayout = struct(
  "vfio_user_dma_map",
  { argsz: u32, flags: u32, offset: u64, address: u64, size: u64 },
  { packed: true, cNames: { address: "addr" } },
);
export type DmaMapWire = Infer<typeof dmaMapLayout>;
export const VFIO_USER_F_DMA_REGION_READ = 1 << 0;
export const VFIO_USER_F_DMA_REGION_WRITE = 1 << 1;
/** libvfio-user extension: mmap the fd (the default with an fd). */
export const VFIO_USER_F_DMA_REGION_MMAP = 1 << 2;
/** libvfio-user extension (2026-06): pread/pwrite the fd instead of mapping it. */
export const VFIO_USER_F_DMA_REGION_FILE_IO = 1 << 3;

/** DMA_UNMAP request and reply (§"VFIO_USER_DMA_UNMAP"). */
export const dmaUnmapLayout = struct(
  "vfio_user_dma_unmap",
  { argsz: u32, flags: u32, address: u64, size: u64 },
  { packed: true, cNames: { address: "addr" } },
);
export type DmaUnmapWire = Infer<typeof dmaUnmapLayout>;
/** The legacy dirty bitmap appended to DMA_UNMAP with VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP. */
export const dmaUnmapBitmapLayout = struct("vfio_user_bitmap", { pgsize: u64, size: u64 }, { packed: true });

/** DEVICE_GET_INFO request and reply (§"VFIO_USER_DEVICE_GET_INFO"). */
export const deviceInfoLayout = struct(
  "vfio_user_device_info",
  { argsz: u32, flags: u32, numRegions: u32, numIrqs: u32 },
  { packed: true },
);
export type DeviceInfoWire = Infer<typeof deviceInfoLayout>;

/** DEVICE_GET_REGION_INFO request and reply: struct vfio_region_info, packed; caps follow. */
export const regionInfoLayout = struct(
  "vfio_region_info",
  { argsz: u32, flags: u32, index: u32, capOffset: u32, size: u64, offset: u64 },
  { packed: true },
);
export type RegionInfoWire = Infer<typeof regionInfoLayout>;

/** DEVICE_GET_REGION_IO_FDS request and reply head (§"VFIO_USER_DEVICE_GET_REGION_IO_FDS"). */
export const regionIoFdsLayout = struct(
  "vfio_user_region_io_fds_request",
  { argsz: u32, flags: u32, index: u32, count: u32 },
  { packed: true },
);
export type RegionIoFdsWire = Infer<typeof regionIoFdsLayout>;
/** A sub-region entry as the spec lays it out (40 bytes). */
export const subRegionIoregionfdLayout = struct(
  "vfio_user_sub_region_ioregionfd",
  { offset: u64, size: u64, fdIndex: u32, type: u32, flags: u32, padding: u32, userData: u64 },
  { packed: true },
);
/** A sub-region entry as libvfio-user lays it out (48 bytes, with a shadow memory fd). */
export const subRegionIoeventfdLayout = struct(
  "vfio_user_sub_region_ioeventfd",
  { gpaOffset: u64, size: u64, fdIndex: u32, type: u32, flags: u32, shadowMemFdIndex: u32, shadowOffset: u64, datamatch: u64 },
  { packed: true },
);
export const VFIO_USER_IO_FD_TYPE_IOEVENTFD = 0;
export const VFIO_USER_IO_FD_TYPE_IOREGIONFD = 1;
export const VFIO_USER_IO_FD_TYPE_IOEVENTFD_SHADOW = 2;

/** DEVICE_GET_IRQ_INFO request and reply: struct vfio_irq_info, packed. */
export const irqInfoLayout = struct("vfio_irq_info", { argsz: u32, flags: u32, index: u32, count: u32 }, { packed: true });
export type IrqInfoWire = Infer<typeof irqInfoLayout>;

/** DEVICE_SET_IRQS request: struct vfio_irq_set, packed; bools or fds follow. */
export const irqSetLayout = struct(
  "vfio_irq_set",
  { argsz: u32, flags: u32, index: u32, start: u32, count: u32 },
  { packed: true },
);
export type IrqSetWire = Infer<typeof irqSetLayout>;

/** REGION_READ/REGION_WRITE prefix (§"VFIO_USER_REGION_READ"); data follows. */
export const regionAccessLayout = struct(
  "vfio_user_region_access",
  { offset: u64, region: u32, count: u32 },
  { packed: true },
);
export type RegionAccessWire = Infer<typeof regionAccessLayout>;

/**
 * DMA_READ/DMA_WRITE prefix as libvfio-user sends and expects it: u64 address, u64 count
 * (the spec's DMA_WRITE reply shows a u32 count; VFIO-USER.md §4.9: match libvfio-user).
 */
export const dmaAccessLayout = struct(
  "vfio_user_dma_region_access",
  { address: u64, count: u64 },
  { packed: true, cNames: { address: "addr" } },
);
export type DmaAccessWire = Infer<typeof dmaAccessLayout>;

/** REGION_WRITE_MULTI head and entry (§"VFIO_USER_REGION_WRITE_MULTI"). */
export const writeMultiLayout = struct("vfio_user_write_multi", { wrCnt: u64 }, { packed: true });
export const writeMultiEntryLayout = struct(
  "vfio_user_write_multi_data",
  { offset: u64, region: u32, count: u32, data: bytes(8) },
  { packed: true },
);
export type WriteMultiEntryWire = Infer<typeof writeMultiEntryLayout>;
/** QEMU's cap on entries per message (hw/vfio-user/protocol.h VFIO_USER_MULTI_MAX). */
export const VFIO_USER_MULTI_MAX = 200;
/** Bytes per entry at most (data[8]). */
export const VFIO_USER_MULTI_DATA = 8;

/** DEVICE_FEATURE head (§"VFIO_USER_DEVICE_FEATURE"); feature data follows. */
export const deviceFeatureLayout = struct("vfio_user_device_feature", { argsz: u32, flags: u32 }, { packed: true });
export type DeviceFeatureWire = Infer<typeof deviceFeatureLayout>;
export const VFIO_DEVICE_FEATURE_MASK = 0xffff;
export const VFIO_DEVICE_FEATURE_GET = 1 << 16;
export const VFIO_DEVICE_FEATURE_SET = 1 << 17;
export const VFIO_DEVICE_FEATURE_PROBE = 1 << 18;
export const VFIO_DEVICE_FEATURE_MIGRATION = 1;
export const VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE = 2;
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_START = 6;
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP = 7;
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT = 8;

/** DMA_LOGGING_START data head and range. */
export const dmaLoggingControlLayout = struct(
  "vfio_user_device_feature_dma_logging_control",
  { pageSize: u64, numRanges: u32, reserved: u32 },
  { packed: true },
);
export const dmaLoggingRangeLayout = struct(
  "vfio_user_device_feature_dma_logging_range",
  { iova: u64, length: u64 },
  { packed: true },
);
/** DMA_LOGGING_REPORT data; the reply appends the bitmap. */
export const dmaLoggingReportLayout = struct(
  "vfio_user_device_feature_dma_logging_report",
  { iova: u64, length: u64, pageSize: u64 },
  { packed: true },
);
/** MIGRATION feature data (GET): u64 flags. */
export const migrationFeatureLayout = struct("vfio_user_device_feature_migration", { flags: u64 }, { packed: true });
/** MIG_DEVICE_STATE feature data. */
export const migStateFeatureLayout = struct("vfio_user_device_feature_mig_state", { deviceState: u32, dataFd: u32 }, { packed: true });

/** MIG_DATA_READ/WRITE head (§"VFIO_USER_MIG_DATA_READ"); data follows. */
export const migDataLayout = struct("vfio_user_mig_data", { argsz: u32, size: u32 }, { packed: true });
