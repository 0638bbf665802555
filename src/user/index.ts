/**
 * vfio-ts user: the vfio-user protocol. A sans-I/O core (protocol/, handle-request.ts),
 * transports that move messages (and fds, where they can), a server that hosts a device model
 * (server.ts) and a client that is a VfioDevice + DmaSpace backend (client.ts).
 * May import api/, abi/, devices/, and native/ for fds, mmap, sockets and eventfds.
 * Importing it loads no native code: the FFI library loads on first socket use.
 */
export * from "./protocol/message.js";
export * from "./protocol/version.js";
export * from "./protocol/reader.js";
export type * from "./transport/transport.js";
export * from "./transport/scm-transport.js";
export * from "./transport/stream-transport.js";
export * from "./transport/connect.js";
export * from "./served-device.js";
export * from "./dma-windows.js";
export * from "./handle-request.js";
export * from "./server-session.js";
export * from "./server.js";
export * from "./client.js";
