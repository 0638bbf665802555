/*
 * Baseline for bench/kernel-dma.bench.ts: VFIO_IOMMU_MAP_DMA + VFIO_IOMMU_UNMAP_DMA pairs per
 * second on one 4 KiB memfd page, straight ioctls on a type1v2 container holding one group.
 * usage: kernel-dma <group> <pairs>; prints "pairs <per second>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  char path[64];
  snprintf(path, sizeof path, "/dev/vfio/%s", argv[1]);
  long pairs = strtol(argv[2], 0, 0);
  int container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
  int group = open(path, O_RDWR | O_CLOEXEC);
  if (container < 0 || group < 0) { perror("open"); return 1; }
  if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) || ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) { perror("setup"); return 1; }
  int memfd = memfd_create("bench", MFD_CLOEXEC);
  if (ftruncate(memfd, 4096)) return 1;
  void *page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  struct vfio_iommu_type1_dma_map map = {.argsz = sizeof map, .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                                         .vaddr = (unsigned long)page, .iova = 0x100000, .size = 4096};
  struct vfio_iommu_type1_dma_unmap unmap = {.argsz = sizeof unmap, .iova = 0x100000, .size = 4096};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < pairs; i++) {
    unmap.size = 4096;
    if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map) || ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap)) { perror("map/unmap"); return 1; }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("pairs %.0f\n", pairs / ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9));
  return 0;
}
