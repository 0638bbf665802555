/**
 * Test fixture: a raw vfio-user peer on one end of a socketpair, the server on the other.
 * It sends exactly the bytes and fds a test gives it, so tests can speak both well-formed
 * and malformed protocol and see the server's replies as they are on the wire.
 */
import type { TestContext } from "node:test";
import type { DeviceModel } from "../../src/api/hosting.js";
import { VfioUserCommand } from "../../src/abi/vfio-user/command.js";
import { VFIO_USER_F_TYPE_COMMAND } from "../../src/abi/vfio-user/header.js";
import { EduDevice } from "../../src/devices/edu.js";
import { loadSocketLibc } from "../../src/native/socket.js";
import { encodeMessage, type Message } from "../../src/user/protocol/message.js";
import { encodeVersion, type Capabilities } from "../../src/user/protocol/version.js";
import { VfioUserServer, type ServerOptions } from "../../src/user/server.js";
import { ScmTransport } from "../../src/user/transport/scm-transport.js";

export class RawPeer {
  readonly #transport: ScmTransport;
  readonly #queue: Message[] = [];
  readonly #waiters: ((m: Message | undefined) => void)[] = [];
  #nextId = 0x100;
  closed = false;

  constructor(readonly server: VfioUserServer, readonly model: DeviceModel, fd: number) {
    this.#transport = new ScmTransport(fd, { name: "raw peer" });
    this.#transport.start({
      message: (m) => {
        const w = this.#waiters.shift();
        if (w) w(m);
        else this.#queue.push(m);
      },
      closed: () => {
        this.closed = true;
        for (const w of this.#waiters.splice(0)) w(undefined);
      },
    });
  }

  /** Sends one message; returns its msg_id. */
  send(command: number, parts: readonly Uint8Array[] = [], fds: readonly number[] = [], flags = VFIO_USER_F_TYPE_COMMAND): number {
    const msgId = this.#nextId++ & 0xffff;
    this.#transport.send(encodeMessage({ msgId, command, flags }, ...parts), fds);
    return msgId;
  }

  /** Sends raw bytes as one sendmsg. */
  sendRaw(bytes: Uint8Array, fds: readonly number[] = []): void {
    this.#transport.send(bytes, fds);
  }

  /** The next message from the server, or undefined when it closed the connection. */
  next(timeoutMs = 2000): Promise<Message | undefined> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no message from the server")), timeoutMs);
      this.#waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  }

  /** Sends a command and returns the next message (its reply). */
  async request(command: number, parts: readonly Uint8Array[] = [], fds: readonly number[] = []): Promise<Message> {
    const id = this.send(command, parts, fds);
    const reply = await this.next();
    if (!reply) throw new Error("the server closed the connection");
    if (reply.header.msgId !== id) throw new Error(`reply ${reply.header.msgId} to ${id}`);
    return reply;
  }

  /** VERSION 0.2 with `caps`. */
  version(caps: Partial<Capabilities> = {}): Promise<Message> {
    return this.request(VfioUserCommand.VERSION, [encodeVersion(0, 2, caps)]);
  }

  close(): void {
    this.#transport.close();
  }
}

/** A server hosting `model` (edu by default) and a raw peer connected to it, closed after the test. */
export async function rawPeer(t: TestContext, options: { model?: DeviceModel; server?: ServerOptions; version?: boolean } = {}): Promise<RawPeer> {
  const model = options.model ?? new EduDevice();
  const server = VfioUserServer.create(model, options.server);
  const pair = loadSocketLibc().socketpair();
  if (typeof pair === "number") throw new Error(`socketpair: ${pair}`);
  server.serve(new ScmTransport(pair[0], { name: "server end" }));
  const peer = new RawPeer(server, model, pair[1]);
  t.after(async () => {
    peer.close();
    await server.close();
  });
  if (options.version ?? true) await peer.version();
  return peer;
}

/** The errno of an error reply, 0 for a success. */
export function errnoOf(reply: Message): number {
  return reply.header.flags & 0x20 ? reply.header.error : 0;
}
