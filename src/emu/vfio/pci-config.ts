/**
 * vfio-pci's config space virtualisation (drivers/vfio/pci/vfio_pci_config.c): what userspace
 * reads and writes through region VFIO_PCI_CONFIG_REGION_INDEX.
 *
 * Each byte belongs to the standard header, a capability, or nothing ("unassigned", raw access
 * to the hardware). Per region a table says which bits are virtualised (kept in vconfig, never
 * reaching the device) and which are writable. Notably:
 *  - BARs and the ROM BAR are fully virtual: userspace sizes them (write all ones, read back the
 *    size mask and the flag bits) without touching the real ones (vfio_bar_fixup);
 *  - Command: INTx Disable is virtual (vfio uses it for INTx masking); other bits, Bus Master
 *    among them, go to the device; Memory/IO enables are also remembered virtually, and BAR
 *    access through the region fails with EIO while Memory is off (__vfio_pci_memory_enabled);
 *  - the capability list pointer and every capability's next pointer are virtual;
 *  - MSI: flags, address and data are virtual; MSI is enabled only through VFIO_DEVICE_SET_IRQS;
 *  - accesses are split at dword and capability boundaries; past the end of config space: EFAULT.
 */
import {
  PCI_BASE_ADDRESS_0, PCI_BIST, PCI_CACHE_LINE_SIZE, PCI_CAPABILITY_LIST, PCI_CAP_ID_EXP, PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM, PCI_CFG_SPACE_SIZE, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_IO, PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID, PCI_EXP_DEVCTL, PCI_EXP_DEVCTL2, PCI_EXP_DEVCTL2_ARI, PCI_EXP_DEVCTL_BCR_FLR, PCI_EXP_DEVCTL_PAYLOAD,
  PCI_EXP_DEVCTL_PHANTOM, PCI_EXP_DEVCTL_READRQ, PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN, PCI_LATENCY_TIMER,
  PCI_MSI_ADDRESS_HI, PCI_MSI_ADDRESS_LO, PCI_MSI_DATA_32, PCI_MSI_DATA_64, PCI_MSI_FLAGS, PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_QMASK, PCI_MSI_FLAGS_QSIZE, PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK, PCI_ROM_ADDRESS,
  PCI_STATUS, PCI_STATUS_CAP_LIST, PCI_STD_HEADER_SIZEOF, PCI_VENDOR_ID,
} from "../../api/pci-regs.js";
import { barTypeBits as barFlags } from "../../devices/pci/bar.js";
import type { PciFunction } from "../pci/function.js";

/** Markers in the byte map (PCI_CAP_ID_BASIC is 0; INVALID bytes are raw access). */
const CAP_BASIC = 0;
const CAP_INVALID = 0xff;

/** Per-byte permissions of one capability (struct perm_bits): virtualised bits and writable bits. */
interface PermBits {
  readonly kind: "basic" | "msi" | "default" | "direct";
  readonly virt: Uint8Array;
  readonly write: Uint8Array;
}

function perm(kind: PermBits["kind"], size: number): PermBits {
  const rounded = Math.ceil(size / 4) * 4;
  return { kind, virt: new Uint8Array(rounded), write: new Uint8Array(rounded) };
}
function setb(p: PermBits, off: number, virt: number, write: number): void {
  p.virt[off] = virt & 0xff;
  p.write[off] = write & 0xff;
}
function setw(p: PermBits, off: number, virt: number, write: number): void {
  setb(p, off, virt, write);
  setb(p, off + 1, virt >> 8, write >> 8);
}
function setd(p: PermBits, off: number, virt: number, write: number): void {
  setw(p, off, virt & 0xffff, write & 0xffff);
  setw(p, off + 2, virt >>> 16, write >>> 16);
}

/** init_pci_cap_basic_perm(). */
function basicPerm(): PermBits {
  const p = perm("basic", PCI_STD_HEADER_SIZEOF);
  setw(p, PCI_VENDOR_ID, 0xffff, 0);
  setw(p, PCI_DEVICE_ID, 0xffff, 0);
  setw(p, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 0xffff);
  setw(p, PCI_STATUS, PCI_STATUS_CAP_LIST, 0);
  setb(p, PCI_CACHE_LINE_SIZE, 0, 0xff);
  setb(p, PCI_LATENCY_TIMER, 0, 0xff);
  setb(p, PCI_BIST, 0, 0xff);
  for (let bar = 0; bar < 6; bar++) setd(p, PCI_BASE_ADDRESS_0 + 4 * bar, 0xffffffff, 0xffffffff);
  setd(p, PCI_ROM_ADDRESS, 0xffffffff, 0xffffffff);
  setb(p, PCI_CAPABILITY_LIST, 0xff, 0);
  setb(p, PCI_INTERRUPT_LINE, 0xff, 0xff);
  setb(p, PCI_INTERRUPT_PIN, 0xff, 0);
  return p;
}

/** init_pci_cap_msi_perm(). */
function msiPerm(length: number, flags: number): PermBits {
  const p = perm("msi", length);
  setb(p, 1, 0xff, 0);
  setb(p, PCI_MSI_FLAGS, 0xff, 0xff);
  setd(p, PCI_MSI_ADDRESS_LO, 0xffffffff, 0xffffffff);
  if (flags & PCI_MSI_FLAGS_64BIT) {
    setd(p, PCI_MSI_ADDRESS_HI, 0xffffffff, 0xffffffff);
    setw(p, PCI_MSI_DATA_64, 0xffff, 0xffff);
  } else {
    setw(p, PCI_MSI_DATA_32, 0xffff, 0xffff);
  }
  return p;
}

/** init_pci_cap_exp_perm(). */
function expPerm(): PermBits {
  const p = perm("default", 0x3c);
  setb(p, 1, 0xff, 0);
  setw(p, PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_READRQ, ~PCI_EXP_DEVCTL_PHANTOM & 0xffff);
  setw(p, PCI_EXP_DEVCTL2, 0, ~PCI_EXP_DEVCTL2_ARI & 0xffff);
  return p;
}

/** init_pci_cap_pm_perm(). */
function pmPerm(): PermBits {
  const p = perm("default", 8);
  setb(p, 1, 0xff, 0);
  setd(p, PCI_PM_CTRL, 0, ~PCI_PM_CTRL_STATE_MASK >>> 0);
  return p;
}

/** The user-visible config space of one open vfio-pci device (vdev->vconfig + pci_config_map). */
export class VfioPciConfig {
  readonly vconfig: Uint8Array;
  private readonly map: Uint8Array;
  private readonly perms = new Map<number, PermBits>();
  private readonly vview: DataView;
  private bardirty = true;
  /** vdev->msi_qmax: log2 of the vectors enabled through SET_IRQS. */
  msiQmax = 0;
  /** vdev->virq_disabled: the virtual INTx Disable bit as last written. */
  virqDisabled = false;

  constructor(
    private readonly fn: PciFunction,
    private readonly hooks: {
      /** MSI is enabled through the ioctl only (is_msi(vdev)). */
      msiEnabled(): boolean;
      intxMask(): void;
      intxUnmask(): void;
    },
  ) {
    const size = fn.cfgSize;
    this.vconfig = new Uint8Array(size);
    this.vview = new DataView(this.vconfig.buffer);
    this.map = new Uint8Array(size).fill(CAP_INVALID);
    this.map.fill(CAP_BASIC, 0, PCI_STD_HEADER_SIZEOF);
    this.perms.set(CAP_BASIC, basicPerm());
    this.fill(0, PCI_STD_HEADER_SIZEOF);
    this.capInit();
    // Extended capabilities (PCIe functions only) are read-only pass-through here; the chain
    // keeps its real next pointers (none of the emulated vfio-bound functions has one to hide).
    if (size > PCI_CFG_SPACE_SIZE) {
      this.map.fill(0xfe, PCI_CFG_SPACE_SIZE, size);
      this.perms.set(0xfe, perm("direct", 4));
    }
  }

  /** The virtual Command register (vconfig). */
  get virtualCommand(): number {
    return this.vview.getUint16(PCI_COMMAND, true);
  }

  /** __vfio_pci_memory_enabled(). */
  memoryEnabled(): boolean {
    return (this.virtualCommand & PCI_COMMAND_MEMORY) !== 0;
  }

  /**
   * vfio_pci_config_rw(): reads `length` bytes at `offset`. Throws "EFAULT" for a range past
   * the config space (the caller maps it to the errno).
   */
  read(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const count = this.chunk(pos, length - done);
      const value = this.readChunk(pos, count);
      for (let i = 0; i < count; i++) out[done + i] = (value >>> (8 * i)) & 0xff;
      done += count;
    }
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    this.checkRange(offset, data.length);
    let done = 0;
    while (done < data.length) {
      const pos = offset + done;
      const count = this.chunk(pos, data.length - done);
      let value = 0;
      for (let i = 0; i < count; i++) value |= data[done + i]! << (8 * i);
      this.writeChunk(pos, count, value >>> 0);
      done += count;
    }
  }

  private checkRange(offset: number, length: number): void {
    if (offset < 0 || offset >= this.fn.cfgSize || offset + length > this.fn.cfgSize) throw new ConfigRangeError();
  }

  /** vfio_config_do_rw() chunking: within a dword and within one capability. */
  private chunk(pos: number, remaining: number): 1 | 2 | 4 {
    const cap = this.map[pos]!;
    let same = 1;
    while ((pos + same) % 4 && this.map[pos + same] === cap) same++;
    const count = Math.min(remaining, same);
    if (count >= 4 && pos % 4 === 0) return 4;
    if (count >= 2 && pos % 2 === 0) return 2;
    return 1;
  }

  private capStart(pos: number): number {
    const cap = this.map[pos]!;
    if (cap === CAP_BASIC) return 0;
    const base = pos >= PCI_CFG_SPACE_SIZE ? PCI_CFG_SPACE_SIZE : PCI_STD_HEADER_SIZEOF;
    while (pos - 1 >= base && this.map[pos - 1] === cap) pos--;
    return pos;
  }

  private readChunk(pos: number, count: 1 | 2 | 4): number {
    const cap = this.map[pos]!;
    if (cap === CAP_INVALID) return this.fn.config.read(pos, count);
    const p = this.perms.get(cap)!;
    const offset = pos - this.capStart(pos);
    if (p.kind === "direct") {
      let value = this.fn.config.read(pos, count);
      if (pos >= PCI_CFG_SPACE_SIZE) return value;
      if (offset === 0 && count > 1) value = (value & ~0xffff) | (this.vconfig[pos]! | (this.vconfig[pos + 1]! << 8));
      else if (offset === 1) value = (value & ~0xff) | this.vconfig[pos]!;
      return value >>> 0;
    }
    if (p.kind === "basic" && isBar(offset)) this.barFixup();
    if (p.kind === "msi" && offset <= PCI_MSI_FLAGS && offset + count >= PCI_MSI_FLAGS) {
      const start = this.capStart(pos);
      const flags = this.vview.getUint16(start + PCI_MSI_FLAGS, true);
      this.vview.setUint16(start + PCI_MSI_FLAGS, (flags & ~PCI_MSI_FLAGS_QMASK) | (this.msiQmax << 1), true);
    }
    return this.defaultRead(p, pos, count, offset);
  }

  /** vfio_default_config_read(): virtual bits from vconfig, the rest from the device. */
  private defaultRead(p: PermBits, pos: number, count: 1 | 2 | 4, offset: number): number {
    const v = this.vread(pos, count);
    const virt = permWord(p.virt, offset, count);
    const all = count === 4 ? 0xffffffff : (1 << (count * 8)) - 1;
    if (virt === all) return v;
    const phys = this.fn.config.read(pos, count);
    return ((phys & ~virt) | (v & virt)) >>> 0;
  }

  private writeChunk(pos: number, count: 1 | 2 | 4, value: number): void {
    const cap = this.map[pos]!;
    if (cap === CAP_INVALID) {
      this.fn.config.write(pos, count, value);
      return;
    }
    const p = this.perms.get(cap)!;
    if (p.kind === "direct") return; // no writefn: dropped
    const offset = pos - this.capStart(pos);
    if (p.kind === "basic") {
      this.defaultWrite(p, pos, count, offset, value);
      if (offset === PCI_COMMAND) {
        // Remember Memory/IO enable virtually, to detect backdoor resets and gate BAR access.
        const mask = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
        const cmd = this.virtualCommand;
        this.vview.setUint16(PCI_COMMAND, (cmd & ~mask) | (value & mask), true);
      }
      if (offset >= PCI_COMMAND && offset <= PCI_COMMAND + 1) {
        const disable = (this.virtualCommand & PCI_COMMAND_INTX_DISABLE) !== 0;
        if (disable && !this.virqDisabled) {
          this.virqDisabled = true;
          this.hooks.intxMask();
        } else if (!disable && this.virqDisabled) {
          this.virqDisabled = false;
          this.hooks.intxUnmask();
        }
      }
      if (isBar(offset)) this.bardirty = true;
      return;
    }
    this.defaultWrite(p, pos, count, offset, value);
    if (p.kind === "msi" && offset <= PCI_MSI_FLAGS && offset + count >= PCI_MSI_FLAGS) {
      const start = this.capStart(pos);
      let flags = this.vview.getUint16(start + PCI_MSI_FLAGS, true);
      if (!this.hooks.msiEnabled()) flags &= ~PCI_MSI_FLAGS_ENABLE;
      if (((flags & PCI_MSI_FLAGS_QSIZE) >> 4) > this.msiQmax) flags = (flags & ~PCI_MSI_FLAGS_QSIZE) | (this.msiQmax << 4);
      this.vview.setUint16(start + PCI_MSI_FLAGS, flags, true);
      // vfio writes the fixed-up flags back to the hardware too.
      this.fn.config.write(start + PCI_MSI_FLAGS, 2, flags);
    }
  }

  /** vfio_default_config_write(). */
  private defaultWrite(p: PermBits, pos: number, count: 1 | 2 | 4, offset: number, value: number): void {
    const write = permWord(p.write, offset, count);
    if (!write) return;
    const virt = permWord(p.virt, offset, count);
    if (write & virt) {
      const v = this.vread(pos, count);
      this.vwrite(pos, count, ((v & ~(write & virt)) | (value & write & virt)) >>> 0);
    }
    if (write & ~virt) {
      const phys = this.fn.config.read(pos, count);
      this.fn.config.write(pos, count, ((phys & ~(write & ~virt)) | (value & write & ~virt)) >>> 0);
    }
  }

  /** vfio_bar_fixup(): BARs read back their size mask and flags. */
  private barFixup(): void {
    if (!this.bardirty) return;
    const res = this.fn.resources;
    for (let i = 0; i < 6; i++) {
      const at = PCI_BASE_ADDRESS_0 + 4 * i;
      const r = res[i];
      const spec = this.fn.model.bars[i];
      if (!r || r.start === 0n || !spec) {
        this.vview.setUint32(at, 0, true);
        continue;
      }
      const mask = ~(r.size - 1n);
      let bar = this.vview.getUint32(at, true);
      bar = ((bar & Number(mask & 0xffffffffn)) | barFlags(spec)) >>> 0;
      this.vview.setUint32(at, bar, true);
      if (spec.kind === "memory64" && i < 5) {
        const hi = this.vview.getUint32(at + 4, true) & Number((mask >> 32n) & 0xffffffffn);
        this.vview.setUint32(at + 4, hi >>> 0, true);
        i++;
      }
    }
    // No emulated function has an option ROM: the ROM BAR reads as unimplemented.
    this.vview.setUint32(PCI_ROM_ADDRESS, 0, true);
    this.bardirty = false;
  }

  /** vfio_cap_init(): walks the real capability list, hiding what vfio does not know. */
  private capInit(): void {
    const cfg = this.fn.config;
    if (!(cfg.read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) return;
    let pos = cfg.read(PCI_CAPABILITY_LIST, 1);
    let prev = PCI_CAPABILITY_LIST;
    let caps = 0;
    let loops = (PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF) / 4;
    while (pos && loops--) {
      const id = cfg.read(pos, 1);
      const next = cfg.read(pos + 1, 1);
      let len = 0;
      let p: PermBits | undefined;
      if (id === PCI_CAP_ID_MSI) {
        const flags = cfg.read(pos + PCI_MSI_FLAGS, 2);
        len = 10 + (flags & PCI_MSI_FLAGS_64BIT ? 4 : 0) + (flags & 0x100 ? 10 : 0);
        p = msiPerm(len, flags);
      } else if (id === PCI_CAP_ID_EXP) {
        len = 0x3c;
        p = expPerm();
      } else if (id === PCI_CAP_ID_PM) {
        len = 8;
        p = pmPerm();
      } else if (id === PCI_CAP_ID_MSIX) {
        len = 12;
        p = perm("direct", 12);
      }
      if (!len || !p) {
        this.vconfig[prev] = next; // hide it
        pos = next;
        continue;
      }
      this.map.fill(id, pos, pos + len);
      this.perms.set(id, p);
      this.fill(pos, len);
      prev = pos + 1;
      pos = next;
      caps++;
    }
    if (!caps) this.vview.setUint16(PCI_STATUS, this.vview.getUint16(PCI_STATUS, true) & ~PCI_STATUS_CAP_LIST, true);
  }

  private fill(offset: number, length: number): void {
    for (let i = 0; i < length; i++) this.vconfig[offset + i] = this.fn.config.read(offset + i, 1);
  }

  private vread(pos: number, count: 1 | 2 | 4): number {
    return count === 1 ? this.vconfig[pos]! : count === 2 ? this.vview.getUint16(pos, true) : this.vview.getUint32(pos, true);
  }

  private vwrite(pos: number, count: 1 | 2 | 4, value: number): void {
    if (count === 1) this.vconfig[pos] = value & 0xff;
    else if (count === 2) this.vview.setUint16(pos, value & 0xffff, true);
    else this.vview.setUint32(pos, value >>> 0, true);
  }
}

/** Thrown for an access outside config space; the device turns it into EFAULT. */
export class ConfigRangeError extends Error {}

function isBar(offset: number): boolean {
  return (offset >= PCI_BASE_ADDRESS_0 && offset < PCI_BASE_ADDRESS_0 + 24) || (offset >= PCI_ROM_ADDRESS && offset < PCI_ROM_ADDRESS + 4);
}

function permWord(bytes: Uint8Array, offset: number, count: number): number {
  let v = 0;
  for (let i = 0; i < count; i++) v |= (bytes[offset + i] ?? 0) << (8 * i);
  return v >>> 0;
}
