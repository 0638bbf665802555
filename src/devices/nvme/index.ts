/** The NVMe controller model and the stores its namespaces live in. */
export * from "./controller.js";
export * from "./block-store.js";
