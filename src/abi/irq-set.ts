/**
 * VFIO_DEVICE_SET_IRQS argument: struct vfio_irq_set followed by `data[]`, whose type the
 * DATA flag names (include/uapi/linux/vfio.h): nothing for DATA_NONE, one __u8 per vector for
 * DATA_BOOL, one __s32 per vector for DATA_EVENTFD (-1 de-assigns or skips that vector).
 * argsz covers the struct and the data, as vfio_set_irqs_validate_and_prepare checks it.
 */
import type { EventNotifier } from "../api/event-notifier.js";
import type { IrqSetRequest } from "../api/irq-set.js";
import { VfioProtocolError } from "../api/errors.js";
import { i32, struct, u8 } from "./struct.js";
import { irqSetLayout } from "./vfio/irq-set.js";

const DATA_NONE = 1 << 0;
const DATA_BOOL = 1 << 1;
const DATA_EVENTFD = 1 << 2;
const boolLayout = struct("__u8", { value: u8 });
const fdLayout = struct("__s32", { value: i32 });

/**
 * Encodes a request. Data comes from `bools` or `notifiers` as the flags say; a notifier
 * is turned into an fd by `fdOf` (default: its `fd`), and null becomes -1. With no data array
 * for a DATA flag, `count` entries of false / -1 are written.
 * @throws VfioProtocolError (field "data") when the array length is not `count`, or a
 *   notifier has no fd (an emulated notifier cannot cross an ioctl).
 * @example
 * libc.ioctl(fd, VFIO_DEVICE_SET_IRQS, encodeIrqSet({ flags: DATA_EVENTFD | ACTION_TRIGGER, index: 2, start: 0, count: 1, notifiers: [n] }));
 */
export function encodeIrqSet(
  request: IrqSetRequest,
  fdOf: (notifier: EventNotifier) => number | undefined = (notifier) => notifier.fd,
): Uint8Array {
  const type = request.flags & (DATA_NONE | DATA_BOOL | DATA_EVENTFD);
  const element = type === DATA_BOOL ? 1 : type === DATA_EVENTFD ? 4 : 0;
  const dataSize = element * request.count;
  const out = new Uint8Array(irqSetLayout.size + dataSize);
  irqSetLayout.encode({ ...request, argsz: out.byteLength }, out);
  const check = (length: number): void => {
    if (length !== request.count) {
      throw new VfioProtocolError(`vfio_irq_set: ${length} data entries for count ${request.count}`, "data");
    }
  };
  if (type === DATA_BOOL) {
    const bools = request.bools ?? new Array<boolean>(request.count).fill(false);
    check(bools.length);
    bools.forEach((b, i) => boolLayout.encode({ value: b ? 1 : 0 }, out, irqSetLayout.size + i));
  } else if (type === DATA_EVENTFD) {
    const notifiers = request.notifiers ?? new Array<null>(request.count).fill(null);
    check(notifiers.length);
    notifiers.forEach((notifier, i) => {
      const fd = notifier === null ? -1 : fdOf(notifier);
      if (fd === undefined) throw new VfioProtocolError(`vfio_irq_set: notifier ${i} has no fd`, "data");
      fdLayout.encode({ value: fd }, out, irqSetLayout.size + 4 * i);
    });
  }
  return out;
}

/** A decoded vfio_irq_set: the fixed fields and the raw data after them. */
export interface IrqSetDecoded {
  readonly argsz: number;
  readonly flags: number;
  readonly index: number;
  readonly start: number;
  readonly count: number;
  /** With DATA_BOOL. */
  readonly bools?: readonly boolean[];
  /** With DATA_EVENTFD: -1 for de-assign. */
  readonly fds?: readonly number[];
}

/**
 * Decodes a vfio_irq_set buffer (the emulated machine's and the vfio-user server's side).
 * Only the data type's size is checked against argsz here; flag and range validation is the
 * device's job, with the kernel's errnos.
 * @throws VfioProtocolError (field "argsz", errno EINVAL) when argsz or the buffer is too short
 *   for `count` entries, as vfio_set_irqs_validate_and_prepare answers EINVAL.
 */
export function decodeIrqSet(buffer: Uint8Array): IrqSetDecoded {
  if (buffer.byteLength < irqSetLayout.size) {
    throw new VfioProtocolError(`vfio_irq_set: ${buffer.byteLength} bytes, need ${irqSetLayout.size}`, "argsz");
  }
  const head = irqSetLayout.decode(buffer);
  const type = head.flags & (DATA_NONE | DATA_BOOL | DATA_EVENTFD);
  const element = type === DATA_BOOL ? 1 : type === DATA_EVENTFD ? 4 : 0;
  const need = irqSetLayout.size + element * head.count;
  if (element > 0 && (head.argsz < need || buffer.byteLength < need)) {
    throw new VfioProtocolError(`vfio_irq_set: argsz ${head.argsz} too small for ${head.count} entries`, "argsz");
  }
  const at = (i: number): number => irqSetLayout.size + element * i;
  if (type === DATA_BOOL) {
    return { ...head, bools: Array.from({ length: head.count }, (_, i) => boolLayout.decode(buffer, at(i)).value !== 0) };
  }
  if (type === DATA_EVENTFD) {
    return { ...head, fds: Array.from({ length: head.count }, (_, i) => fdLayout.decode(buffer, at(i)).value) };
  }
  return head;
}
