/**
 * Where a namespace's blocks live: memory (`vfio serve nvme --size N`) or a file (`--backing
 * FILE`, read and written in place, so the bytes a client writes are in the file).
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { VfioUsageError } from "../../api/errors.js";

export interface BlockStore {
  readonly size: bigint;
  read(offset: number, length: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
  /** Makes written data durable (Flush). */
  flush(): void;
  close(): void;
}

export class MemoryStore implements BlockStore {
  readonly #bytes: Uint8Array;
  constructor(size: number) {
    this.#bytes = new Uint8Array(size);
  }
  get size(): bigint {
    return BigInt(this.#bytes.length);
  }
  read(offset: number, length: number): Uint8Array {
    return this.#bytes.slice(offset, offset + length);
  }
  write(offset: number, data: Uint8Array): void {
    this.#bytes.set(data, offset);
  }
  flush(): void {}
  close(): void {}
}

export class FileStore implements BlockStore {
  #fd: number;
  readonly size: bigint;
  constructor(readonly path: string) {
    try {
      this.#fd = openSync(path, "r+");
    } catch (error) {
      throw new VfioUsageError(`--backing ${path}: ${(error as { code?: string }).code ?? "cannot open"}`, (error as { code?: string }).code ?? "EIO");
    }
    const stat = fstatSync(this.#fd);
    if (!stat.isFile()) {
      closeSync(this.#fd);
      throw new VfioUsageError(`--backing ${path}: not a regular file`, "EINVAL");
    }
    this.size = BigInt(stat.size);
  }
  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.#fd, out, done, length - done, offset + done);
      if (n === 0) break; // past the end: zeros
      done += n;
    }
    return out;
  }
  write(offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += writeSync(this.#fd, data, done, data.length - done, offset + done);
  }
  flush(): void {
    fsyncSync(this.#fd);
  }
  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}
