/** What the command handlers (admin-commands.ts, io-commands.ts) see of the controller. */
import type { BlockStore } from "./block-store.js";
import type { NamespaceConfig } from "./identify-data.js";
import type { ControllerConfig } from "./identify-data.js";
import type { CompletionQueue, SubmissionQueue } from "./queues.js";

export interface ModelNamespace {
  readonly config: NamespaceConfig;
  readonly store: BlockStore;
}

export interface ControllerContext {
  readonly config: ControllerConfig;
  readonly namespaces: ReadonlyMap<number, ModelNamespace>;
  /** Indexed by queue ID; 0 is the admin pair. */
  readonly sqs: (SubmissionQueue | undefined)[];
  readonly cqs: (CompletionQueue | undefined)[];
  /** I/O queue pairs the controller offers (Number of Queues), CAP.MQES + 1, MSI-X vectors. */
  readonly maxIoQueues: number;
  readonly maxQueueEntries: number;
  readonly vectors: number;
  readonly pageSize: number;
  /** The largest transfer, bytes (MDTS). */
  readonly maxTransfer: number;
  /** Reads the host memory the PRPs describe; a status field where they are invalid. */
  readData(prp1: bigint, prp2: bigint, length: number): Promise<Uint8Array | number>;
  /** Writes `data` to the host memory the PRPs describe; resolves with a status field. */
  writeData(prp1: bigint, prp2: bigint, data: Uint8Array): Promise<number>;
  /** Drops a submission queue's outstanding work (Delete I/O SQ). */
  deleteSubmissionQueue(qid: number): void;
}
