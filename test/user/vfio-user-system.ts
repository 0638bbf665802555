/**
 * A VfioSystem whose devices are reached over vfio-user, so the conformance scenarios that
 * concern a device run unchanged through the vfio-user client against the vfio-user server.
 *
 * vfio-user has no containers or groups (VFIO-USER.md: the server is the device); this
 * adapter supplies the container/group steps the scenarios take on their way to a device,
 * with the conformance test bed's topology: each edu of the test bed is a VfioUserServer
 * hosting its own EduDevice on a socket, a group opens a VfioUserClient to it, and the
 * container's DMA maps become DMA_MAPs of the memfd behind the mapped process memory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Container, DmaMapRequest, DmaUnmapRequest, Group, IommuInfo } from "../../src/api/container.js";
import type { VfioDevice } from "../../src/api/device.js";
import type { EventNotifier } from "../../src/api/event-notifier.js";
import type { Sysfs } from "../../src/api/sysfs.js";
import type { ProcessMemory, VfioSystem } from "../../src/api/vfio-system.js";
import { VfioSystemError, errnoValue } from "../../src/api/errors.js";
import {
  VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE,
  VFIO_IOMMU_INFO_PGSIZES, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU,
} from "../../src/api/constants.js";
import { EduDevice } from "../../src/devices/edu.js";
import { KernelEventNotifier } from "../../src/native/event-notifier.js";
import { loadLibc } from "../../src/native/libc.js";
import { allocateMemfd } from "../../src/native/process-memory.js";
import { VfioUserClient } from "../../src/user/client.js";
import { VfioUserServer } from "../../src/user/server.js";

/** The test bed's edu devices and the group each sits in (test/conformance/fixture.ts). */
const EDUS: Record<string, number> = { "0000:00:03.0": 3, "0000:01:01.0": 4, "0000:02:00.0": 5 };

class UserContainer implements Container {
  readonly maps: { iova: bigint; size: bigint; read: boolean; write: boolean; fd: number; offset: bigint }[] = [];
  readonly devices = new Set<VfioUserClient>();
  constructor(private readonly system: VfioUserSystem) {}
  async apiVersion(): Promise<number> {
    return 0;
  }
  async checkExtension(extension: number): Promise<number> {
    return extension === VFIO_TYPE1_IOMMU || extension === VFIO_TYPE1v2_IOMMU ? 1 : 0;
  }
  async setIommu(): Promise<void> {}
  async iommuInfo(): Promise<IommuInfo> {
    return { flags: VFIO_IOMMU_INFO_PGSIZES, iovaPgsizes: 4096n, iovaRanges: [{ start: 0n, end: 0xfedf_ffffn }, { start: 0xfef0_0000n, end: (1n << 48n) - 1n }] };
  }
  async mapDma(request: DmaMapRequest): Promise<void> {
    const memory = this.system.memoryAt(request.vaddr, request.size);
    const map = {
      iova: request.iova,
      size: request.size,
      read: (request.flags & VFIO_DMA_MAP_FLAG_READ) !== 0,
      write: (request.flags & VFIO_DMA_MAP_FLAG_WRITE) !== 0,
      fd: memory.fd!,
      offset: request.vaddr - memory.vaddr,
    };
    for (const device of this.devices) await device.dmaMap(map);
    this.maps.push(map);
  }
  async unmapDma(request: DmaUnmapRequest): Promise<bigint> {
    const i = this.maps.findIndex((m) => m.iova === request.iova && m.size === request.size);
    if (i < 0) return 0n;
    this.maps.splice(i, 1);
    for (const device of this.devices) await device.dmaUnmap(request.iova, request.size);
    return request.size;
  }
  async close(): Promise<void> {}
  async [Symbol.asyncDispose](): Promise<void> {}
}

class UserGroup implements Group {
  container: UserContainer | undefined;
  constructor(private readonly system: VfioUserSystem, readonly id: number) {}
  async status(): Promise<number> {
    return VFIO_GROUP_FLAGS_VIABLE | (this.container ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
  }
  async setContainer(container: Container): Promise<void> {
    this.container = container as UserContainer;
  }
  async unsetContainer(): Promise<void> {
    this.container = undefined;
  }
  async openDevice(name: string): Promise<VfioDevice> {
    const server = this.system.servers.get(name);
    if (!server || EDUS[name] !== this.id || !this.container) throw new VfioSystemError("VFIO_GROUP_GET_DEVICE_FD", errnoValue("EINVAL"), "vfio-user", name);
    const client = await VfioUserClient.connect(server.path!);
    const container = this.container;
    for (const map of container.maps) await client.dmaMap(map);
    container.devices.add(client);
    const close = client.close.bind(client);
    client.close = async () => {
      container.devices.delete(client);
      await close();
    };
    return client;
  }
  async close(): Promise<void> {}
  async [Symbol.asyncDispose](): Promise<void> {}
}

/** A fresh test bed: one server per edu, sockets in a temp dir. Close it after use. */
export class VfioUserSystem implements VfioSystem {
  readonly description = "vfio-user servers hosting the test bed's edu devices";
  readonly pageSize = 4096;
  readonly servers = new Map<string, VfioUserServer>();
  readonly #memories: ProcessMemory[] = [];
  readonly #dir: string;
  readonly sysfs: Sysfs = {
    description: "vfio-user test bed",
    read: async () => undefined,
    list: async () => undefined,
    readlink: async (p: string) => {
      const m = /^bus\/pci\/devices\/([^/]+)\/(iommu_group|driver)$/.exec(p);
      if (!m) return undefined;
      const group = EDUS[m[1]!];
      if (m[2] === "iommu_group") return group === undefined ? "../../../kernel/iommu_groups/1" : `../../../kernel/iommu_groups/${group}`;
      return group === undefined ? "../../../bus/pci/drivers/e1000" : "../../../bus/pci/drivers/vfio-pci";
    },
    write: async () => {},
  };

  private constructor(dir: string) {
    this.#dir = dir;
  }

  static async create(): Promise<VfioUserSystem> {
    const system = new VfioUserSystem(mkdtempSync(path.join(tmpdir(), "vfio-user-system-")));
    for (const address of Object.keys(EDUS)) {
      system.servers.set(address, await VfioUserServer.listen(new EduDevice(), path.join(system.#dir, `${address.replaceAll(":", "_")}.sock`)));
    }
    return system;
  }

  async openContainer(): Promise<Container> {
    return new UserContainer(this);
  }

  async openGroup(id: number): Promise<Group> {
    if (!Object.values(EDUS).includes(id)) throw new VfioSystemError("open", errnoValue("ENOENT"), "vfio-user", `group ${id}`);
    return new UserGroup(this, id);
  }

  allocateMemory(size: number): ProcessMemory {
    const memory = allocateMemfd(loadLibc(), size, { name: "conformance-dma" });
    this.#memories.push(memory);
    return memory;
  }

  /** The memfd memory holding [vaddr, vaddr+size). */
  memoryAt(vaddr: bigint, size: bigint): ProcessMemory {
    const m = this.#memories.find((x) => x.fd !== undefined && x.vaddr <= vaddr && vaddr + size <= x.vaddr + BigInt(x.size));
    if (!m) throw new VfioSystemError("VFIO_IOMMU_MAP_DMA", errnoValue("EFAULT"), "vfio-user", undefined, "no memfd memory at that vaddr");
    return m;
  }

  createNotifier(): EventNotifier {
    return new KernelEventNotifier(loadLibc());
  }

  async close(): Promise<void> {
    for (const s of this.servers.values()) await s.close();
    for (const m of this.#memories) m.free();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
