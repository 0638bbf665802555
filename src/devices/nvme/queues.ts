/**
 * Queue state on the controller's side (Base §3.3.1): a submission queue's base, size, head
 * (the controller's) and tail (the host's doorbell); a completion queue's base, size, tail and
 * phase (the controller's), head (the host's doorbell), interrupt vector and enable.
 */
export class SubmissionQueue {
  head = 0;
  tail = 0;
  /** A processing loop is running for this queue. */
  busy = false;
  constructor(readonly qid: number, readonly base: bigint, readonly entries: number, readonly cqid: number) {}
}

export class CompletionQueue {
  head = 0;
  tail = 0;
  phase = 1;
  /** Completions waiting for room (the queue is full while tail + 1 == head, §3.3.1.5). */
  readonly waiting: { sqid: number; sqhd: number; cid: number; status: number; result: number }[] = [];
  constructor(readonly qid: number, readonly base: bigint, readonly entries: number, readonly vector: number, readonly interrupts: boolean) {}

  get full(): boolean {
    return (this.tail + 1) % this.entries === this.head;
  }

  get empty(): boolean {
    return this.tail === this.head;
  }
}
