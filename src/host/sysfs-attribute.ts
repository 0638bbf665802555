/** sysfs attribute parsing lives in api/ (every backend's explanations use it); re-exported for host/. */
export * from "../api/sysfs-attribute.js";
