/**
 * vfio-user command numbers (spec §"Commands"; libvfio-user include/vfio-user.h
 * enum vfio_user_command). 14 was DIRTY_PAGES, removed with migration v2.
 */
import type { VfioOp } from "../../api/op.js";

export const VfioUserCommand = {
  VERSION: 1,
  DMA_MAP: 2,
  DMA_UNMAP: 3,
  DEVICE_GET_INFO: 4,
  DEVICE_GET_REGION_INFO: 5,
  DEVICE_GET_REGION_IO_FDS: 6,
  DEVICE_GET_IRQ_INFO: 7,
  DEVICE_SET_IRQS: 8,
  REGION_READ: 9,
  REGION_WRITE: 10,
  DMA_READ: 11,
  DMA_WRITE: 12,
  DEVICE_RESET: 13,
  REGION_WRITE_MULTI: 15,
  DEVICE_FEATURE: 16,
  MIG_DATA_READ: 17,
  MIG_DATA_WRITE: 18,
} as const;
export type VfioUserCommand = (typeof VfioUserCommand)[keyof typeof VfioUserCommand];

const names = new Map<number, string>(Object.entries(VfioUserCommand).map(([name, value]) => [value, name]));

/** "REGION_READ" for 9; undefined for a number the protocol does not define. */
export function vfioUserCommandName(command: number): string | undefined {
  return names.get(command);
}

/** The operation name errors carry for a command: "VFIO_USER_REGION_READ". */
export function vfioUserOp(command: number): VfioOp {
  const name = names.get(command);
  // MIG_DATA_* have no VfioOp of their own; they are DEVICE_FEATURE's data stream.
  if (name === undefined || name.startsWith("MIG_DATA")) return "VFIO_USER_DEVICE_FEATURE";
  return `VFIO_USER_${name}` as VfioOp;
}
