/** The vfio-user wire: header, command numbers and every payload layout, as data. */
export * from "./header.js";
export * from "./command.js";
export * from "./messages.js";
