/*
 * Baseline for bench/kernel-dma.bench.ts: VFIO_IOMMU_MAP_DMA + VFIO_IOMMU_UNMAP_DMA pairs on one
 * page, straight ioctls on the container fd the bench's own KernelContainer uses. Built as a
 * shared library and called through koffi, so C and TS alternate round by round on the same
 * container, in the same process, in the same guest.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <time.h>

/* Pairs per second of `pairs` map+unmap pairs of [iova, iova + 4096) → vaddr; -errno on failure. */
double dma_pairs(int container, uint64_t vaddr, uint64_t iova, long pairs) {
  struct vfio_iommu_type1_dma_map map = {.argsz = sizeof map, .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                                         .vaddr = vaddr, .iova = iova, .size = 4096};
  struct vfio_iommu_type1_dma_unmap unmap = {.argsz = sizeof unmap, .iova = iova, .size = 4096};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < pairs; i++) {
    unmap.size = 4096; /* the kernel writes back the size it unmapped */
    if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map) || ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap)) return -errno;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return pairs / ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}
