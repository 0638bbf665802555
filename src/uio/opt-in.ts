/** The opt-in of api/unsafe-opt-in.ts, which VFIO's no-IOMMU mode (api/) shares with uio/. */
export { requireUnsafeOptIn, UNSAFE_NO_IOMMU_WARNING, type UnsafeOptIn } from "../api/unsafe-opt-in.js";
