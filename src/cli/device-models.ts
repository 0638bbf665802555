/** The device models `vfio serve` can host, by name. */
import type { DeviceModel } from "../api/hosting.js";
import { EduDevice } from "../devices/edu.js";

/** Model name → one line for `vfio serve --help` and a factory for a fresh instance per server. */
export const deviceModels: Readonly<Record<string, { readonly summary: string; create(): DeviceModel }>> = {
  edu: { summary: "QEMU's edu teaching device (factorial, DMA, MSI)", create: () => new EduDevice() },
};
