/**
 * The one place that loads native code: koffi and the C library. native/libc.ts and
 * native/socket.ts declare their functions on `libcLibrary()` (kernel/ and user/ reach libc only
 * through them); importing api/, abi/, host/, emu/ or user/'s codecs never reaches this file.
 *
 * koffi is pinned to an exact version in package.json because native/ uses `koffi.node.poll`,
 * which its changelog calls subject to change; test/native/event-notifier and socket tests exercise it.
 */
import { createRequire } from "node:module";
import type * as Koffi from "koffi";

let koffiModule: typeof Koffi | undefined;
let libc: Koffi.LibraryHandle | undefined;

/** The koffi module, loaded on first use. */
export function koffi(): typeof Koffi {
  koffiModule ??= createRequire(import.meta.url)("koffi") as typeof Koffi;
  return koffiModule;
}

/** glibc, loaded on first use. */
export function libcLibrary(): Koffi.LibraryHandle {
  libc ??= koffi().load("libc.so.6");
  return libc;
}
