/**
 * A small device model with MSI-X, for testing MSI-X hosting: BAR0 is 16 KiB of registers with
 * the vector table at 0x2000 and the PBA at 0x3000 (as QEMU's NVMe lays them out). Writing N to
 * RAISE asks the host to raise vector N; SCRATCH is a plain register. Everything else reads 0.
 */
import type { AccessSize, DeviceHost, DeviceModel } from "../../src/api/hosting.js";

export const MSIX_TEST_RAISE = 0x0;
export const MSIX_TEST_SCRATCH = 0x4;
export const MSIX_TEST_VECTORS = 8;
export const MSIX_TEST_TABLE = 0x2000;
export const MSIX_TEST_PBA = 0x3000;

export class MsixTestModel implements DeviceModel {
  readonly name = "msix-test";
  readonly identity = { vendorId: 0x1b36, deviceId: 0x00ff, subsystemVendorId: 0x1af4, subsystemId: 0x1100, classCode: 0xff0000, revision: 1 };
  readonly bars = [{ size: 0x4000n, kind: "memory32" as const, prefetchable: false }];
  readonly msiVectors = 0;
  readonly msix = { vectors: MSIX_TEST_VECTORS, tableBar: 0, tableOffset: MSIX_TEST_TABLE, pbaBar: 0, pbaOffset: MSIX_TEST_PBA };
  readonly intxPin = 1;
  /** Every BAR access the model itself saw, as "r@offset" / "w@offset". */
  readonly accesses: string[] = [];
  private host: DeviceHost | undefined;
  private scratch = 0n;

  attach(host: DeviceHost): void {
    this.host = host;
  }
  barRead(_bar: number, offset: bigint, _size: AccessSize): bigint {
    this.accesses.push(`r@${offset.toString(16)}`);
    return offset === BigInt(MSIX_TEST_SCRATCH) ? this.scratch : 0n;
  }
  barWrite(_bar: number, offset: bigint, _size: AccessSize, value: bigint): void {
    this.accesses.push(`w@${offset.toString(16)}`);
    if (offset === BigInt(MSIX_TEST_RAISE)) this.host!.raiseIrq(Number(value));
    if (offset === BigInt(MSIX_TEST_SCRATCH)) this.scratch = value;
  }
  reset(): void {
    this.scratch = 0n;
  }
}
