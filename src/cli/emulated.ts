/**
 * The built-in emulated machine as the CLI offers it (`--emulated`, `vfio demo`): the test
 * guest's topology with the bindings its /init makes, so `vfio ls --emulated` shows what
 * `vfio ls` shows inside the guest.
 */
import { defaultMachineSpec } from "../emu/default-machine.js";
import { Machine } from "../emu/machine.js";
import { EmulatedSystem } from "../emu/system.js";

/** A fresh emulated machine, bound as the guest's /init leaves it. */
export function emulatedMachine(): Machine {
  return new Machine(defaultMachineSpec({ guestInit: true }));
}

/** A process on a fresh emulated machine. */
export function emulatedSystem(machine: Machine = emulatedMachine()): EmulatedSystem {
  return new EmulatedSystem(machine);
}
