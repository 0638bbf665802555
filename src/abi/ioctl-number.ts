/**
 * ioctl request numbers, computed as include/uapi/asm-generic/ioctl.h does (x86-64, arm64 and
 * riscv use the generic encoding: nr bits 0-7, type 8-15, size 16-29, dir 30-31).
 *
 * VFIO declares every ioctl with `_IO(VFIO_TYPE, VFIO_BASE + n)`, size 0 and no direction,
 * whatever it copies: the struct's own `argsz` says how much (vfio.h, "IOCTLs for VFIO file
 * descriptor"). So the numbers below are plain `_IO` values.
 */

const IOC_NRBITS = 8;
const IOC_TYPEBITS = 8;
const IOC_SIZEBITS = 14;
const IOC_NRSHIFT = 0;
const IOC_TYPESHIFT = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT = IOC_SIZESHIFT + IOC_SIZEBITS;

/** _IOC_NONE, _IOC_WRITE, _IOC_READ (asm-generic/ioctl.h). */
export const IOC_NONE = 0;
export const IOC_WRITE = 1;
export const IOC_READ = 2;

/** `_IOC(dir, type, nr, size)`; `type` may be given as its character (";"). Non-negative. */
export function ioc(dir: number, type: number | string, nr: number, size: number): number {
  const t = typeof type === "string" ? type.charCodeAt(0) : type;
  if (!(nr >= 0 && nr < 1 << IOC_NRBITS) || !(t >= 0 && t < 1 << IOC_TYPEBITS) || !(size >= 0 && size < 1 << IOC_SIZEBITS)) {
    throw new RangeError(`_IOC(${dir}, ${t}, ${nr}, ${size}): a field is out of range`);
  }
  // >>> 0 keeps _IOC_READ (bit 31) positive, as the kernel's unsigned long is.
  return ((dir << IOC_DIRSHIFT) | (size << IOC_SIZESHIFT) | (t << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT)) >>> 0;
}

/** `_IO(type, nr)`. */
export function io(type: number | string, nr: number): number {
  return ioc(IOC_NONE, type, nr, 0);
}

/** `VFIO_TYPE`: the ';' ioctl type. */
export const VFIO_TYPE = ";".charCodeAt(0);
/** `VFIO_BASE`. */
export const VFIO_BASE = 100;

/** Container (/dev/vfio/vfio) ioctls. */
export const VFIO_GET_API_VERSION = io(VFIO_TYPE, VFIO_BASE + 0);
export const VFIO_CHECK_EXTENSION = io(VFIO_TYPE, VFIO_BASE + 1);
export const VFIO_SET_IOMMU = io(VFIO_TYPE, VFIO_BASE + 2);
/** Group (/dev/vfio/N) ioctls. */
export const VFIO_GROUP_GET_STATUS = io(VFIO_TYPE, VFIO_BASE + 3);
export const VFIO_GROUP_SET_CONTAINER = io(VFIO_TYPE, VFIO_BASE + 4);
export const VFIO_GROUP_UNSET_CONTAINER = io(VFIO_TYPE, VFIO_BASE + 5);
export const VFIO_GROUP_GET_DEVICE_FD = io(VFIO_TYPE, VFIO_BASE + 6);
/** Device fd ioctls. */
export const VFIO_DEVICE_GET_INFO = io(VFIO_TYPE, VFIO_BASE + 7);
export const VFIO_DEVICE_GET_REGION_INFO = io(VFIO_TYPE, VFIO_BASE + 8);
export const VFIO_DEVICE_GET_IRQ_INFO = io(VFIO_TYPE, VFIO_BASE + 9);
export const VFIO_DEVICE_SET_IRQS = io(VFIO_TYPE, VFIO_BASE + 10);
export const VFIO_DEVICE_RESET = io(VFIO_TYPE, VFIO_BASE + 11);
/** The numbers 12 and 13 are reused: on a device fd they are the PCI hot reset pair. */
export const VFIO_DEVICE_GET_PCI_HOT_RESET_INFO = io(VFIO_TYPE, VFIO_BASE + 12);
export const VFIO_DEVICE_PCI_HOT_RESET = io(VFIO_TYPE, VFIO_BASE + 13);
/** Type1 container ioctls (after VFIO_SET_IOMMU). */
export const VFIO_IOMMU_GET_INFO = io(VFIO_TYPE, VFIO_BASE + 12);
export const VFIO_IOMMU_MAP_DMA = io(VFIO_TYPE, VFIO_BASE + 13);
export const VFIO_IOMMU_UNMAP_DMA = io(VFIO_TYPE, VFIO_BASE + 14);

/** Every VFIO ioctl number above by its uapi name, for the header check and for traces. */
export const vfioIoctls: Readonly<Record<string, number>> = {
  VFIO_GET_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_SET_IOMMU,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_SET_IRQS,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
};
