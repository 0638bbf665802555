/**
 * vfio-ts host: inspection of a Linux host for VFIO (PCI devices, IOMMU groups, viability,
 * readiness) and its preparation (bind plans, journal, safety checks, persistence). Talks only
 * to the api's `Sysfs` and `HostEnvironment`, so it reads and binds on a live machine, a
 * captured fixture, or the emulated machine alike. May import api/ only; node:fs/os only in
 * node-sysfs.ts, node-host-environment.ts, pci-ids.ts, and for binding in journal.ts (the
 * journal file), host-probe.ts (/proc) and persist.ts (/etc), each behind an interface that
 * tests replace. Follows serialport's
 * "captured OS output as fixtures" and zod's "diagnostics as data".
 */
export * from "../api/pci-address.js";
export * from "./pci-ids.js";
export * from "./pci-class-names.js";
export * from "./pci-devices.js";
export * from "./iommu-groups.js";
export * from "./viability.js";
export * from "./kernel-command-line.js";
export * from "./kernel-release.js";
export * from "./read-error.js";
export * from "./sysfs-attribute.js";
export * from "./iommu-status.js";
export * from "./memlock-limit.js";
export * from "./process-identity.js";
export * from "./fix-action.js";
export * from "./diagnose.js";
export * from "./inventory.js";
export * from "./dev-vfio-list.js";
export * from "./node-sysfs.js";
export * from "./node-host-environment.js";
export * from "./sysfs-only-environment.js";
export * from "./binding-state.js";
export * from "./bind-plan.js";
export * from "./bind-executor.js";
export * from "./journal.js";
export * from "./host-probe.js";
export * from "./safety-checks.js";
export * from "./passthrough.js";
export * from "./persist.js";
export * from "./uio-status.js";
export * from "./uio-bind-plan.js";
