/** IOMMU groups as sysfs shows them live in api/ (every backend's explanations use them); re-exported for host/. */
export * from "../api/iommu-groups.js";
