/**
 * Test fixture: a vfio-user server hosting a model on a socket in a fresh temp directory, and
 * a client connected to it; everything closed and removed after the test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";
import type { DeviceModel } from "../../src/api/hosting.js";
import { EduDevice } from "../../src/devices/edu.js";
import { VfioUserClient, type ClientOptions } from "../../src/user/client.js";
import { VfioUserServer, type ServerOptions } from "../../src/user/server.js";

export interface Loopback {
  readonly server: VfioUserServer;
  readonly client: VfioUserClient;
  readonly socketPath: string;
  readonly model: DeviceModel;
}

/** A temp dir removed after the test. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), "vfio-user-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function serve(t: TestContext, options: ServerOptions & { model?: DeviceModel } = {}): Promise<{ server: VfioUserServer; socketPath: string; model: DeviceModel }> {
  const socketPath = path.join(tempDir(t), "dev.sock");
  const model = options.model ?? new EduDevice();
  const server = await VfioUserServer.listen(model, socketPath, options);
  t.after(() => server.close());
  return { server, socketPath, model };
}

export async function loopback(
  t: TestContext,
  options: { server?: ServerOptions; client?: ClientOptions; model?: DeviceModel; fds?: boolean } = {},
): Promise<Loopback> {
  const fds = options.fds ?? true;
  const { server, socketPath, model } = await serve(t, { fds, ...options.server, ...(options.model ? { model: options.model } : {}) });
  const client = await VfioUserClient.connect(socketPath, { fds, ...options.client });
  t.after(() => client.close());
  return { server, client, socketPath, model };
}
