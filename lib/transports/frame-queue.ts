// A first-in, first-out queue of frames: an array read from a moving head, compacted once the read
// part outweighs the rest, so a long-lived queue neither shifts an array per frame nor grows for ever.

const empty = new Uint8Array(0);
/** Read slots kept before the array is compacted. */
const compactAfter = 1024;

/** Frames waiting, oldest first. */
export class FrameQueue {
  #frames: Uint8Array[] = [];
  #head = 0;

  /** Frames waiting. */
  get length(): number {
    return this.#frames.length - this.#head;
  }

  /** Queues `frame` last. */
  push(frame: Uint8Array): void {
    this.#frames.push(frame);
  }

  /** The oldest frame, left in the queue. */
  peek(): Uint8Array | undefined {
    return this.#frames[this.#head];
  }

  /** Takes the oldest frame out. */
  shift(): Uint8Array | undefined {
    if (this.#head === this.#frames.length) return undefined;
    const frame = this.#frames[this.#head];
    this.#frames[this.#head++] = empty; // let it be collected now
    if (this.#head === this.#frames.length) this.clear();
    else if (this.#head > compactAfter && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#head = 0;
    }
    return frame;
  }

  /** Drops every frame. */
  clear(): void {
    this.#frames = [];
    this.#head = 0;
  }
}
