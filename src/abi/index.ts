/**
 * vfio-ts abi: struct layouts as data (linux/vfio.h, the vfio-user wire), ioctl numbers, and
 * the codec that reads and writes them. Pure: imports api/ only.
 */
export * from "./struct.js";
