// One direction of one simulated connection: a FIFO line of frames and control packets, each due at
// a virtual time, with one clock timer for the head. Partitions hold the head (and so the whole
// line), clogs postpone it, and an unreliable link may drop, copy or re-time single frames.
import type { Clock, TimerHandle } from '../../lib/env/clock.js';
import type { Random } from '../../lib/env/random.js';
import type { Address } from '../../lib/env/transport.js';
import type { FaultTable } from './sim-faults.js';
import { chance, drawLatencyMs } from './sim-link.js';
import type { SimNetworkEvent } from './sim-net-event.js';

/** What the network lends every pipe. */
export interface PipeContext {
  readonly clock: Clock;
  readonly random: Random;
  readonly faults: FaultTable;
  /** How long a partition may hold a direction's next packet before the connection breaks. */
  readonly stallBreakMs: number;
  /** Pipes held by a partition, resumed in this (insertion) order whenever the faults change. */
  readonly stalled: Set<Pipe>;
  trace(event: Omit<SimNetworkEvent, 'atMs'>): void;
}

/** What becomes of a frame, decided when it is sent. */
export type FrameFate = 'deliver' | 'drop' | 'reset';

/** A frame on its way; `counted` frames are in the sender's `bufferedBytes` (stray copies are not). */
export interface FrameItem {
  readonly kind: 'frame';
  readonly frame: Uint8Array;
  readonly seq: number;
  readonly fate: FrameFate;
  readonly counted: boolean;
  dueAt: number;
  /** When it was sent, for listeners drawing it in flight. */
  readonly sentAt: number;
}

/** A handshake reply (`syn-ack`), graceful close (`fin`) or abort (`rst`) packet. */
export interface ControlItem {
  readonly kind: 'syn-ack' | 'fin' | 'rst';
  dueAt: number;
}

/** Anything a pipe carries. */
export type PipeItem = FrameItem | ControlItem;

/** The connection pair a pipe belongs to. */
export interface PipeOwner {
  /** An item reached the far end (or, for a dropped frame, its time came). */
  arrive(pipe: Pipe, item: PipeItem): void;
  /** A partition held this pipe for `stallBreakMs`. */
  stallBroken(pipe: Pipe): void;
}

/** One direction (`from` → `to`) of a connection. */
export class Pipe {
  readonly from: Address;
  readonly to: Address;
  /** The connection id used in traces. */
  readonly connection: string;
  /** Bytes of counted frames sent and neither delivered nor dropped. */
  bufferedBytes = 0;
  readonly #ctx: PipeContext;
  readonly #owner: PipeOwner;
  #queue: PipeItem[] = [];
  #head = 0;
  #timer: TimerHandle | undefined;
  #timerAt = Infinity;
  /** Due time of the last queued item: nothing queued later may be due earlier (FIFO). */
  #lastDueAt = -Infinity;
  #seq = 0;
  /** Reordered frames and duplicate copies, outside the FIFO line, by their timers. */
  readonly #strays = new Map<TimerHandle, FrameItem>();
  #stallTimer: TimerHandle | undefined;

  constructor(ctx: PipeContext, owner: PipeOwner, from: Address, to: Address, connection: string) {
    this.#ctx = ctx;
    this.#owner = owner;
    this.from = from;
    this.to = to;
    this.connection = connection;
  }

  /** Sends one frame (the caller's copy), applying the link's faults. */
  sendFrame(frame: Uint8Array): void {
    const { random, faults } = this.#ctx;
    const link = faults.link(this.from, this.to);
    const seq = this.#seq++;
    const departAt = faults.clearAt(this.from, this.to, this.#ctx.clock.now());
    const fate: FrameFate = chance(random, link.loss) ? (link.unreliable ? 'drop' : 'reset') : 'deliver';
    this.bufferedBytes += frame.byteLength;
    const item: FrameItem = { kind: 'frame', frame, seq, fate, counted: true, dueAt: departAt + drawLatencyMs(random, link), sentAt: this.#ctx.clock.now() };
    this.#ctx.trace({ kind: 'send', from: this.from, to: this.to, connection: this.connection, seq, bytes: frame.byteLength });
    if (link.unreliable && chance(random, link.reorder)) {
      item.dueAt += Math.floor(random.next() * (link.latencyMs.max + 1));
      this.#trace('reorder', item);
      this.#stray(item);
    } else {
      this.#enqueue(item);
    }
    if (link.unreliable && chance(random, link.duplicate)) {
      const copy: FrameItem = { ...item, fate: 'deliver', counted: false, dueAt: item.dueAt + drawLatencyMs(random, link) };
      this.#trace('duplicate', copy);
      this.#stray(copy);
    }
  }

  /** Sends a control packet behind everything already queued. */
  sendControl(kind: ControlItem['kind']): void {
    const { random, faults } = this.#ctx;
    const departAt = faults.clearAt(this.from, this.to, this.#ctx.clock.now());
    this.#enqueue({ kind, dueAt: departAt + drawLatencyMs(random, faults.link(this.from, this.to)) });
  }

  /** Called when faults change: a held pipe whose direction is open again retransmits its line. */
  resume(): void {
    if (this.#stallTimer === undefined || this.#ctx.faults.blocked(this.from, this.to)) return;
    this.#unstall();
    this.#ctx.trace({ kind: 'resume', from: this.from, to: this.to, connection: this.connection });
    const link = this.#ctx.faults.link(this.from, this.to);
    const base = this.#ctx.clock.now() + drawLatencyMs(this.#ctx.random, link);
    for (let i = this.#head; i < this.#queue.length; i++) {
      const item = this.#queue[i] as PipeItem;
      item.dueAt = Math.max(item.dueAt, base);
    }
    this.#lastDueAt = Math.max(this.#lastDueAt, base);
    this.#armHead();
  }

  /** Drops everything in flight (the sender aborted or ended) and stops every timer. */
  clear(): void {
    if (this.#timer !== undefined) this.#ctx.clock.cancelTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    for (const handle of this.#strays.keys()) this.#ctx.clock.cancelTimer(handle);
    this.#strays.clear();
    this.#unstall();
    this.#queue = [];
    this.#head = 0;
    this.#lastDueAt = -Infinity;
    this.bufferedBytes = 0;
  }

  #enqueue(item: PipeItem): void {
    item.dueAt = Math.max(item.dueAt, this.#lastDueAt);
    this.#lastDueAt = item.dueAt;
    this.#queue.push(item);
    if (this.#stallTimer === undefined) this.#armHead();
  }

  #armHead(): void {
    const head = this.#queue[this.#head];
    if (head !== undefined) this.#arm(head.dueAt);
  }

  /** Makes sure the timer fires no later than `at`; an earlier timer re-arms itself when it fires. */
  #arm(at: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    const clock = this.#ctx.clock;
    if (this.#timer !== undefined) clock.cancelTimer(this.#timer);
    this.#timerAt = at;
    this.#timer = clock.setTimer(at - clock.now(), () => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#pump();
    });
  }

  /** Hands over every head item that is due, until one is not due, held or postponed. */
  #pump(): void {
    const { clock, faults } = this.#ctx;
    for (let item = this.#queue[this.#head]; item !== undefined; item = this.#queue[this.#head]) {
      const now = clock.now();
      if (item.dueAt > now) return this.#arm(item.dueAt);
      if (faults.blocked(this.from, this.to)) return this.#stall();
      const clearAt = faults.clearAt(this.from, this.to, now);
      if (clearAt > now) return this.#arm(clearAt);
      this.#head++;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#handOver(item);
    }
  }

  #handOver(item: PipeItem, dropReason = 'lost on an unreliable link'): void {
    if (item.kind === 'frame') {
      if (item.counted) this.bufferedBytes -= item.frame.byteLength;
      if (item.fate === 'drop') this.#trace('drop', item, dropReason);
    }
    this.#owner.arrive(this, item);
  }

  #stray(item: FrameItem): void {
    const clock = this.#ctx.clock;
    const handle = clock.setTimer(item.dueAt - clock.now(), () => {
      this.#strays.delete(handle);
      const { faults } = this.#ctx;
      const now = clock.now();
      const clearAt = faults.clearAt(this.from, this.to, now);
      if (faults.blocked(this.from, this.to)) {
        // A stray is outside the retransmitted line: a partition loses it.
        this.#handOver({ ...item, fate: 'drop' }, 'partitioned');
      } else if (clearAt > now) {
        item.dueAt = clearAt;
        this.#stray(item);
      } else {
        this.#handOver(item);
      }
    });
    this.#strays.set(handle, item);
  }

  #stall(): void {
    if (this.#stallTimer !== undefined) return;
    this.#ctx.stalled.add(this);
    this.#ctx.trace({ kind: 'stall', from: this.from, to: this.to, connection: this.connection });
    this.#stallTimer = this.#ctx.clock.setTimer(this.#ctx.stallBreakMs, () => {
      this.#stallTimer = undefined;
      this.#ctx.stalled.delete(this);
      this.#owner.stallBroken(this);
    });
  }

  #unstall(): void {
    if (this.#stallTimer !== undefined) this.#ctx.clock.cancelTimer(this.#stallTimer);
    this.#stallTimer = undefined;
    this.#ctx.stalled.delete(this);
  }

  #trace(kind: 'drop' | 'duplicate' | 'reorder', item: FrameItem, reason?: string): void {
    const base = { kind, from: this.from, to: this.to, connection: this.connection, seq: item.seq, bytes: item.frame.byteLength, sentAtMs: item.sentAt };
    this.#ctx.trace(reason === undefined ? base : { ...base, reason });
  }
}
