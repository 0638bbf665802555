/**
 * The one place that loads native code: koffi and the C library. Everything else in kernel/
 * (and user/'s fd-passing transport) declares its functions on `libcLibrary()`; importing
 * api/, abi/, host/, emu/ or user/'s codecs never reaches this file.
 *
 * koffi is pinned to an exact version in package.json because kernel/ uses `koffi.node.poll`,
 * which its changelog calls subject to change (../shared/FFI.md); kernel tests self-check it.
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
