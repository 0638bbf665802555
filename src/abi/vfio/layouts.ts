/**
 * Every linux/vfio.h layout vfio-ts declares, in one list, so that the header check
 * (test/abi/vfio-header.test.ts) covers a new layout as soon as it is added here.
 */
import type { Fields, Layout } from "../struct.js";
import { deviceInfoLayout } from "./device-info.js";
import { dmaMapLayout, dmaUnmapLayout } from "./dma-map.js";
import { groupStatusLayout } from "./group-status.js";
import { pciDependentDeviceLayout, pciHotResetInfoLayout, pciHotResetLayout } from "./hot-reset.js";
import {
  dmaAvailCapLayout,
  infoCapHeaderLayout,
  iovaRangeCapLayout,
  iovaRangeLayout,
  migrationCapLayout,
  regionTypeCapLayout,
  sparseMmapAreaLayout,
  sparseMmapCapLayout,
} from "./info-cap.js";
import { iommuInfoLayout } from "./iommu-info.js";
import { irqInfoLayout } from "./irq-info.js";
import { irqSetLayout } from "./irq-set.js";
import { regionInfoLayout } from "./region-info.js";

/** A declared uapi struct, and its trailing flexible array member where it has one. */
export interface VfioLayoutEntry {
  readonly layout: Layout<Fields>;
  /** The C name of the flexible array member; it starts at `layout.size` in every struct here. */
  readonly flexibleArray?: string;
}

/** Every vfio.h struct vfio-ts reads or writes. */
export const vfioLayouts: readonly VfioLayoutEntry[] = [
  { layout: groupStatusLayout },
  { layout: deviceInfoLayout },
  { layout: regionInfoLayout },
  { layout: irqInfoLayout },
  { layout: irqSetLayout, flexibleArray: "data" },
  { layout: dmaMapLayout },
  { layout: dmaUnmapLayout, flexibleArray: "data" },
  { layout: iommuInfoLayout },
  { layout: infoCapHeaderLayout },
  { layout: sparseMmapAreaLayout },
  { layout: sparseMmapCapLayout, flexibleArray: "areas" },
  { layout: regionTypeCapLayout },
  { layout: iovaRangeLayout },
  { layout: iovaRangeCapLayout, flexibleArray: "iova_ranges" },
  { layout: migrationCapLayout },
  { layout: dmaAvailCapLayout },
  { layout: pciDependentDeviceLayout },
  { layout: pciHotResetInfoLayout, flexibleArray: "devices" },
  { layout: pciHotResetLayout, flexibleArray: "group_fds" },
];
