/**
 * Every operation an error can name, once. Kernel ioctls keep their uapi names
 * (include/uapi/linux/vfio.h); vfio-user commands their spec names.
 */
export type VfioOp =
  | "open"
  | "mmap"
  | "munmap"
  | "eventfd"
  | "memfd_create"
  | "VFIO_GET_API_VERSION"
  | "VFIO_CHECK_EXTENSION"
  | "VFIO_SET_IOMMU"
  | "VFIO_GROUP_GET_STATUS"
  | "VFIO_GROUP_SET_CONTAINER"
  | "VFIO_GROUP_UNSET_CONTAINER"
  | "VFIO_GROUP_GET_DEVICE_FD"
  | "VFIO_DEVICE_GET_INFO"
  | "VFIO_DEVICE_GET_REGION_INFO"
  | "VFIO_DEVICE_GET_IRQ_INFO"
  | "VFIO_DEVICE_SET_IRQS"
  | "VFIO_DEVICE_RESET"
  | "VFIO_IOMMU_GET_INFO"
  | "VFIO_IOMMU_MAP_DMA"
  | "VFIO_IOMMU_UNMAP_DMA"
  | "region read"
  | "region write"
  /**
   * A load or store through a RegionMapping. After unmap() it fails with EFAULT (the address
   * is no longer mapped: what a system call given it would answer); with Memory Space disabled
   * on the emulated machine, EIO (as vfio-pci's region access answers; its mmap fault handler
   * sends SIGBUS, which a process cannot survive).
   */
  | "mapping access"
  /** Allocating from a DmaSpace (EBADF once the space is closed). */
  | "DMA allocate"
  | "DMA read"
  | "DMA write"
  | "VFIO_USER_VERSION"
  | "VFIO_USER_DMA_MAP"
  | "VFIO_USER_DMA_UNMAP"
  | "VFIO_USER_DEVICE_GET_INFO"
  | "VFIO_USER_DEVICE_GET_REGION_INFO"
  | "VFIO_USER_DEVICE_GET_REGION_IO_FDS"
  | "VFIO_USER_DEVICE_GET_IRQ_INFO"
  | "VFIO_USER_DEVICE_SET_IRQS"
  | "VFIO_USER_REGION_READ"
  | "VFIO_USER_REGION_WRITE"
  | "VFIO_USER_DMA_READ"
  | "VFIO_USER_DMA_WRITE"
  | "VFIO_USER_DEVICE_RESET"
  | "VFIO_USER_REGION_WRITE_MULTI"
  | "VFIO_USER_DEVICE_FEATURE"
  | "sysfs write"
  | "sysfs read"
  /** The socket system calls (vfio serve, vfio info --socket, the vfio-user transports). */
  | "socket"
  | "bind"
  | "listen"
  | "accept"
  | "connect"
  | "sendmsg"
  | "recvmsg"
  | "close"
  /** Running a helper program (modprobe, update-initramfs). */
  | "exec"
  /** The binding journal file (host/journal.ts). */
  | "journal read"
  | "journal write"
  /** UIO and the plain userspace driver (uio/): locking DMA memory, reading its physical addresses, /dev/uioN. */
  | "mlock"
  | "pagemap read"
  | "uio read"
  /** sysfs config and resourceN files (pread/pwrite). */
  | "config read"
  | "config write";
