#!/bin/sh
# capture-sysfs.sh OUT_DIR [SYS_ROOT] [PROC_ROOT] [DEV_ROOT]
#
# Copies the parts of a live Linux machine that vfio-ts's host inspection (src/host/) reads
# into OUT_DIR, so that tests run `vfio ls` / `vfio check` on a real machine's view:
#
#   OUT_DIR/sys/...                 a subset of /sys, same layout, symlinks kept as written
#                                   (relative), so driver/iommu_group/physfn/virtfn links still
#                                   resolve inside OUT_DIR/sys; with what hangs off the devices
#                                   (class/net, class/block, dev/block, bus/virtio with 9p
#                                   mount_tag, fs/virtiofs, class/graphics) for bind's checks
#   OUT_DIR/proc/cmdline            /proc/cmdline (intel_iommu=, amd_iommu=, iommu=, intremap=)
#   OUT_DIR/proc/self/limits        the capturing shell's limits (RLIMIT_MEMLOCK)
#   OUT_DIR/proc/self/status        its Uid/Gid/Groups lines only (who could open /dev/vfio/N)
#   OUT_DIR/proc/interrupts         the interrupt chips ("IR-PCI-MSI" means remapping is on)
#   OUT_DIR/proc/sys/kernel/osrelease  the kernel release (viability rules depend on it)
#   OUT_DIR/proc/self/mountinfo, proc/swaps   what is mounted and swapped on (bind's safety checks)
#   OUT_DIR/proc/net/{route,ipv6_route,if_inet6}  routes and IPv6 addresses per interface
#   OUT_DIR/proc/<pid>/{comm,fd/<n>}  only the processes holding /dev/vfio/* open, only those fds
#   OUT_DIR/dev/vfio.list           one line per /dev/vfio entry: name type mode uid gid
#                                   (device nodes cannot be committed; absent when /dev/vfio is)
#
# Only attribute files that src/host/ reads are copied, so fixtures stay small. ACPI tables are
# recorded by name only (empty files): their presence says whether firmware describes an IOMMU
# (DMAR: Intel VT-d, IVRS: AMD-Vi) and reading them needs root.
#
# Runs under busybox sh (no bash, no python, no node): POSIX sh, cat, ls, readlink, mkdir, ln,
# stat, grep. Run it as the user whose access you want to record (root in a test guest).
set -u

OUT=${1:?usage: capture-sysfs.sh OUT_DIR [SYS_ROOT] [PROC_ROOT] [DEV_ROOT]}
SYS=${2:-/sys}
PROC=${3:-/proc}
DEV=${4:-/dev}

# Attributes of a PCI device directory that src/host/pci-devices.ts reads.
PCI_ATTRS="vendor device subsystem_vendor subsystem_device class revision numa_node boot_vga
reset_method driver_override enable irq sriov_totalvfs sriov_numvfs sriov_vf_device"
# Symlinks of a PCI device directory (virtfnN are found by listing).
PCI_LINKS="driver iommu_group iommu physfn"

if [ ! -d "$SYS/bus/pci/devices" ]; then
  echo "capture-sysfs.sh: $SYS/bus/pci/devices does not exist: is $SYS a mounted sysfs?" >&2
  exit 2
fi
mkdir -p "$OUT" || exit 2

# copy_file SRC DST: copies a readable regular file, creating its directory. Unreadable
# attributes (permission denied, or EIO as some attributes give) are left out.
copy_file() {
  if [ -f "$1" ] && [ ! -L "$1" ]; then
    mkdir -p "$(dirname "$2")"
    if ! cat "$1" > "$2" 2>/dev/null; then rm -f "$2"; fi
  fi
}

# copy_link SRC DST: recreates a symlink with the same (relative) target.
copy_link() {
  if [ -L "$1" ]; then
    mkdir -p "$(dirname "$2")"
    rm -f "$2"
    ln -s "$(readlink "$1")" "$2"
  fi
}

# The real directory of a /sys path, relative to the sysfs root, found by following the
# symlink chain by hand so the script works on a SYS_ROOT that is not mounted at /sys.
real_rel() {
  p=$1
  while [ -L "$SYS/$p" ]; do
    t=$(readlink "$SYS/$p")
    case $t in
      /*) echo "capture-sysfs.sh: absolute symlink $SYS/$p -> $t" >&2; return 1 ;;
    esac
    p=$(dirname "$p")/$t
    # Normalise a/b/../c to a/c.
    out=
    old_ifs=$IFS; IFS=/
    for part in $p; do
      case $part in
        ''|.) ;;
        ..) out=${out%/*} ;;
        *) out=$out/$part ;;
      esac
    done
    IFS=$old_ifs
    p=${out#/}
  done
  echo "$p"
}

# --- PCI devices -------------------------------------------------------------------------
for dev in $(ls "$SYS/bus/pci/devices"); do
  copy_link "$SYS/bus/pci/devices/$dev" "$OUT/sys/bus/pci/devices/$dev"
  rel=$(real_rel "bus/pci/devices/$dev") || exit 1
  mkdir -p "$OUT/sys/$rel"
  for attr in $PCI_ATTRS; do
    copy_file "$SYS/$rel/$attr" "$OUT/sys/$rel/$attr"
  done
  for link in $PCI_LINKS; do
    copy_link "$SYS/$rel/$link" "$OUT/sys/$rel/$link"
  done
  for link in $(ls "$SYS/$rel" | grep '^virtfn[0-9]'); do
    copy_link "$SYS/$rel/$link" "$OUT/sys/$rel/$link"
  done
done

# --- PCI drivers (names; a device's driver link points into here) --------------------------
for drv in $(ls "$SYS/bus/pci/drivers" 2>/dev/null); do
  mkdir -p "$OUT/sys/bus/pci/drivers/$drv"
done

# copy_entry VIEW NAME ATTRS...: a class or bus view entry (class/net/eth0 -> ../../devices/...):
# the link, and the listed attributes of the directory it leads to. The device tree's real
# path is what tells which PCI device an interface, disk or share hangs off.
copy_entry() {
  view=$1 name=$2
  shift 2
  copy_link "$SYS/$view/$name" "$OUT/sys/$view/$name"
  erel=$view/$name
  if [ -L "$SYS/$view/$name" ]; then
    erel=$(real_rel "$view/$name") || { erel=$view/$name; return 0; }
  fi
  mkdir -p "$OUT/sys/$erel"
  for attr in "$@"; do
    copy_file "$SYS/$erel/$attr" "$OUT/sys/$erel/$attr"
  done
}

# --- What hangs off the devices: interfaces, disks, virtio devices and shares, framebuffers ---
# class/net/<if>/{flags,operstate}: IFF_UP and the link state.
for iface in $(ls "$SYS/class/net" 2>/dev/null); do
  copy_entry class/net "$iface" flags operstate
done
# class/block/<disk or partition>/dev, and holders/ (LVM, MD, dm on top of it).
for blk in $(ls "$SYS/class/block" 2>/dev/null); do
  copy_entry class/block "$blk" dev
  for holder in $(ls "$SYS/$erel/holders" 2>/dev/null); do
    copy_link "$SYS/$erel/holders/$holder" "$OUT/sys/$erel/holders/$holder"
  done
done
# dev/block/<major:minor> -> the disk: how a mount's st_dev names its device.
for mm in $(ls "$SYS/dev/block" 2>/dev/null); do
  copy_link "$SYS/dev/block/$mm" "$OUT/sys/dev/block/$mm"
done
# bus/virtio/devices/virtioN: device (the virtio type), and mount_tag for a 9p share.
for vdev in $(ls "$SYS/bus/virtio/devices" 2>/dev/null); do
  copy_entry bus/virtio/devices "$vdev" device mount_tag
done
# fs/virtiofs/<n>/{tag,device} (Linux 6.9+).
for n in $(ls "$SYS/fs/virtiofs" 2>/dev/null); do
  copy_file "$SYS/fs/virtiofs/$n/tag" "$OUT/sys/fs/virtiofs/$n/tag"
  copy_link "$SYS/fs/virtiofs/$n/device" "$OUT/sys/fs/virtiofs/$n/device"
done
# class/graphics/fbN/device: a framebuffer's PCI device.
for fb in $(ls "$SYS/class/graphics" 2>/dev/null); do
  copy_link "$SYS/class/graphics/$fb/device" "$OUT/sys/class/graphics/$fb/device"
done

# --- IOMMU groups --------------------------------------------------------------------------
mkdir -p "$OUT/sys/kernel/iommu_groups"
for group in $(ls "$SYS/kernel/iommu_groups" 2>/dev/null); do
  g=kernel/iommu_groups/$group
  mkdir -p "$OUT/sys/$g/devices"
  copy_file "$SYS/$g/type" "$OUT/sys/$g/type"
  copy_file "$SYS/$g/reserved_regions" "$OUT/sys/$g/reserved_regions"
  copy_file "$SYS/$g/name" "$OUT/sys/$g/name"  # "vfio-noiommu" for VFIO's no-IOMMU groups
  for dev in $(ls "$SYS/$g/devices"); do
    copy_link "$SYS/$g/devices/$dev" "$OUT/sys/$g/devices/$dev"
  done
done

# --- IOMMU hardware units (/sys/class/iommu/dmar0, ivhd0, ...) ------------------------------
mkdir -p "$OUT/sys/class/iommu"
for unit in $(ls "$SYS/class/iommu" 2>/dev/null); do
  copy_link "$SYS/class/iommu/$unit" "$OUT/sys/class/iommu/$unit"
  rel=$(real_rel "class/iommu/$unit") || exit 1
  mkdir -p "$OUT/sys/$rel"
  # intel-iommu/{cap,ecap,version,address}: ecap bit 3 is Interrupt Remapping support
  # (VT-d spec 11.4.3); amd-iommu/{cap,features}.
  for sub in intel-iommu amd-iommu; do
    for attr in $(ls "$SYS/$rel/$sub" 2>/dev/null); do
      copy_file "$SYS/$rel/$sub/$attr" "$OUT/sys/$rel/$sub/$attr"
    done
  done
done

# --- ACPI tables: names only ---------------------------------------------------------------
mkdir -p "$OUT/sys/firmware/acpi/tables"
for table in $(ls "$SYS/firmware/acpi/tables" 2>/dev/null); do
  if [ -f "$SYS/firmware/acpi/tables/$table" ]; then
    : > "$OUT/sys/firmware/acpi/tables/$table"
  fi
done

# --- VFIO module parameters that change what the kernel allows ------------------------------
for p in vfio_iommu_type1/parameters/allow_unsafe_interrupts vfio/parameters/enable_unsafe_noiommu_mode; do
  copy_file "$SYS/module/$p" "$OUT/sys/module/$p"
done

# --- /proc ----------------------------------------------------------------------------------
mkdir -p "$OUT/proc/self" "$OUT/proc/sys/kernel"
copy_file "$PROC/cmdline" "$OUT/proc/cmdline"
copy_file "$PROC/interrupts" "$OUT/proc/interrupts"
copy_file "$PROC/sys/kernel/osrelease" "$OUT/proc/sys/kernel/osrelease"
copy_file "$PROC/self/limits" "$OUT/proc/self/limits"
grep -E '^(Uid|Gid|Groups):' "$PROC/self/status" > "$OUT/proc/self/status" 2>/dev/null || rm -f "$OUT/proc/self/status"
copy_file "$PROC/self/mountinfo" "$OUT/proc/self/mountinfo"
copy_file "$PROC/swaps" "$OUT/proc/swaps"
for f in route ipv6_route if_inet6; do
  copy_file "$PROC/net/$f" "$OUT/proc/net/$f"
done
# Who holds a VFIO group open: /proc/<pid>/fd/<n> -> /dev/vfio/<group>, and the process name.
for fd in "$PROC"/[0-9]*/fd/*; do
  [ -L "$fd" ] || continue
  target=$(readlink "$fd" 2>/dev/null) || continue
  case $target in
    /dev/vfio/*)
      pid=${fd#"$PROC"/}
      pid=${pid%%/*}
      copy_link "$fd" "$OUT/proc/$pid/fd/${fd##*/}"
      copy_file "$PROC/$pid/comm" "$OUT/proc/$pid/comm"
      ;;
  esac
done

# --- /dev/vfio: a listing, since device nodes cannot be committed -----------------------------
if [ -d "$DEV/vfio" ]; then
  mkdir -p "$OUT/dev"
  : > "$OUT/dev/vfio.list"
  for node in $(ls "$DEV/vfio"); do
    f=$DEV/vfio/$node
    if [ -c "$f" ]; then type=c; elif [ -d "$f" ]; then type=d; else type=-; fi
    # %a: octal permission bits, %u/%g: owner ids.
    perms=$(stat -c '%a %u %g' "$f") || continue
    echo "$node $type $perms" >> "$OUT/dev/vfio.list"
  done
fi

# Git keeps no empty directory, and a driver directory is empty here: a placeholder keeps the
# driver symlinks resolvable in a checkout. src/host/node-sysfs.ts ignores dot files (sysfs has none).
for d in "$OUT"/sys/bus/pci/drivers/* "$OUT/sys/kernel/iommu_groups" "$OUT/sys/class/iommu" "$OUT/sys/firmware/acpi/tables"; do
  if [ -d "$d" ] && [ -z "$(ls -A "$d")" ]; then : > "$d/.keep"; fi
done

echo "captured $SYS into $OUT"
