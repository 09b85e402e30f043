// The simulated network of the deterministic simulator: a Transport whose every packet travels on
// the virtual clock, with per-link latency and faults that can change at any moment of a run.
//
// What TCP would show is what the kernel sees: connections stay ordered and reliable unless a
// link is explicitly `unreliable`. A partition holds packets (as retransmission would); a
// direction held longer than `stallBreakMs` breaks its connection; a dial across a partition
// fails with TIMEOUT after `connectTimeoutMs`; a lost frame on a reliable link resets the
// connection instead of leaving a hole. Same clock, same seed, same calls: same trace.
import type { Clock } from '../../lib/env/clock.js';
import { frameBytesMaxDefault, nodeIdLengthMax } from '../../lib/constants.js';
import { ClusterluckError, invalidArgument, show } from '../../lib/env/errors.js';
import { TypedEventTarget } from '../../lib/env/events.js';
import type { Random } from '../../lib/env/random.js';
import type { Address, DialOptions, Listener, ListenerEvents, Transport } from '../../lib/env/transport.js';
import { SimPair, type SimConnection } from './sim-connection.js';
import { simDial, type DialContext, type DialTarget } from './sim-dial.js';
import { FaultTable } from './sim-faults.js';
import { resolveLink, simLinkDefault, type LinkConfig, type ResolvedLink } from './sim-link.js';
import { simNetworkEventKinds, type SimNetworkEvent, type SimNetworkEventHandler, type SimNetworkEventKind } from './sim-net-event.js';
import type { Pipe } from './sim-pipe.js';

/** Default `highWaterMarkBytes` of a {@link SimNetwork}: 64 KiB per connection and direction. */
export const simHighWaterMarkBytesDefault = 64 * 1024;

/** Default `stallBreakMs`: a direction held this long by a partition breaks its connection. */
export const simStallBreakMsDefault = 5000;

/** Default `connectTimeoutMs`: a dial with no answer (partitioned) fails TIMEOUT after this long. */
export const simConnectTimeoutMsDefault = 3000;

/** Options of a {@link SimNetwork}. */
export interface SimNetworkOptions {
  /** Where every packet's time comes from; a `VirtualClock` in the simulator. */
  readonly clock: Clock;
  /** Where every latency and fault draw comes from; a seeded random in the simulator. */
  readonly random: Random;
  /** Largest frame `send` accepts. @default frameBytesMaxDefault (1 MiB) */
  readonly frameBytesMax?: number;
  /** `send` returns false once this many bytes of one side are in flight. @default 65536 */
  readonly highWaterMarkBytes?: number;
  /** How links behave unless {@link SimNetwork.setLink} says otherwise. @default simLinkDefault (1–10 ms, no faults) */
  readonly defaultLink?: LinkConfig;
  /** A direction held by a partition this long breaks its connection (TCP's user timeout). @default 5000 */
  readonly stallBreakMs?: number;
  /** A dial with no answer by then (SYNs lost to a partition) rejects TIMEOUT. @default 3000 */
  readonly connectTimeoutMs?: number;
  /** Prefix of connection ids, to tell networks apart in logs. @default 'sim' */
  readonly name?: string;
  /** Receives every {@link SimNetworkEvent}, in virtual-time order. @default undefined */
  readonly onEvent?: SimNetworkEventHandler;
}

/**
 * A simulated network: every {@link Transport} it makes reaches the listeners of the same network
 * and no other, through links whose latency and faults are set per direction and may change at
 * any time. All timing is on `clock` and all chance on `random`, so a run replays exactly.
 */
export class SimNetwork {
  /** The largest frame `send` accepts on this network. */
  readonly frameBytesMax: number;
  /** Bytes one side may have in flight before `send` returns false. */
  readonly highWaterMarkBytes: number;
  /** How long a partition may hold a direction before its connection breaks. */
  readonly stallBreakMs: number;
  /** How long a dial waits for an answer. */
  readonly connectTimeoutMs: number;
  /** Receives every event; may be replaced at any time. */
  onEvent: SimNetworkEventHandler | undefined;
  readonly #clock: Clock;
  readonly #name: string;
  readonly #faults: FaultTable;
  readonly #listeners = new Map<Address, SimListener>();
  readonly #pairs = new Set<SimPair>();
  readonly #stalled = new Set<Pipe>();
  readonly #ctx: DialContext;
  readonly #counts: Record<SimNetworkEventKind, number>;
  #lastId = 0;
  #anonymous = 0;

  constructor(options: SimNetworkOptions) {
    const o = options as Partial<SimNetworkOptions> | undefined;
    if (typeof o !== 'object' || o === null) throw invalidArgument('options', o, 'an options object');
    if (typeof o.clock?.setTimer !== 'function') throw invalidArgument('options.clock', o.clock, 'a Clock');
    if (typeof o.random?.next !== 'function') throw invalidArgument('options.random', o.random, 'a Random');
    this.frameBytesMax = positiveInt('options.frameBytesMax', o.frameBytesMax ?? frameBytesMaxDefault);
    this.highWaterMarkBytes = positiveInt('options.highWaterMarkBytes', o.highWaterMarkBytes ?? simHighWaterMarkBytesDefault);
    this.stallBreakMs = positiveInt('options.stallBreakMs', o.stallBreakMs ?? simStallBreakMsDefault);
    this.connectTimeoutMs = positiveInt('options.connectTimeoutMs', o.connectTimeoutMs ?? simConnectTimeoutMsDefault);
    const name = o.name ?? 'sim';
    if (typeof name !== 'string' || name === '') throw invalidArgument('options.name', name, 'a non-empty string');
    if (o.onEvent !== undefined && typeof o.onEvent !== 'function') throw invalidArgument('options.onEvent', o.onEvent, 'a function');
    this.#name = name;
    this.#clock = o.clock;
    this.onEvent = o.onEvent;
    this.#faults = new FaultTable(resolveLink(simLinkDefault, o.defaultLink ?? {}, 'options.defaultLink'));
    this.#counts = Object.fromEntries(simNetworkEventKinds.map((k) => [k, 0])) as Record<SimNetworkEventKind, number>;
    this.#ctx = {
      clock: o.clock,
      random: o.random,
      faults: this.#faults,
      stallBreakMs: this.stallBreakMs,
      stalled: this.#stalled,
      frameBytesMax: this.frameBytesMax,
      highWaterMarkBytes: this.highWaterMarkBytes,
      connectTimeoutMs: this.connectTimeoutMs,
      trace: (event) => this.#trace(event),
      forget: (pair) => this.#pairs.delete(pair),
      listenerAt: (address) => this.#listeners.get(address),
      newPair: (client, server) => {
        const ids = [`${this.#name}:${++this.#lastId}`, `${this.#name}:${++this.#lastId}`] as const;
        const pair = new SimPair(this.#ctx, ids, client, server);
        this.#pairs.add(pair);
        return pair;
      },
    };
  }

  /**
   * A new endpoint (one per node). Its dials come from `nodeName`, else from the first address it
   * listens on, else from a made-up `~N`; faults aimed at that address apply to them, so give a
   * node's transport the address the node listens on.
   */
  transport(nodeName?: Address): Transport {
    if (nodeName !== undefined) checkAddress('nodeName', nodeName);
    const own: SimListener[] = [];
    const anonymous = `~${++this.#anonymous}`;
    return {
      name: 'sim',
      frameBytesMax: this.frameBytesMax,
      listen: async (address) => this.#listen(address, own),
      dial: async (address: Address, options: DialOptions): Promise<SimConnection> => {
        const signal = (options as Partial<DialOptions> | undefined)?.signal;
        if (!(signal instanceof AbortSignal)) throw invalidArgument('options.signal', signal, 'an AbortSignal');
        signal.throwIfAborted();
        checkAddress('address', address);
        return simDial(this.#ctx, nodeName ?? own[0]?.address ?? anonymous, address, signal);
      },
    };
  }

  /** How many events of each kind happened so far. */
  get counts(): Readonly<Record<SimNetworkEventKind, number>> {
    return this.#counts;
  }

  /** Connections (counted once per pair of sides) with a side not yet ended. */
  connectionCount(): number {
    return this.#pairs.size;
  }

  /** The link `from` → `to` as frames sent now would see it. */
  link(from: Address, to: Address): ResolvedLink {
    return this.#faults.link(from, to);
  }

  /** Changes the default link; links with overrides keep what they set. */
  setDefaultLink(config: LinkConfig): void {
    this.#faults.setDefault(config, simLinkDefault);
    this.#trace({ kind: 'link', reason: JSON.stringify(this.#faults.defaultLink) });
  }

  /** Overrides the link `from` → `to` (one direction), merged over what it had; applies to frames sent from now on. */
  setLink(from: Address, to: Address, config: LinkConfig): void {
    this.#faults.setLink(from, to, config);
    this.#trace({ kind: 'link', from, to, reason: JSON.stringify(this.#faults.link(from, to)) });
  }

  /** Drops the override of `from` → `to`; it follows the default link again. */
  resetLink(from: Address, to: Address): void {
    this.#faults.resetLink(from, to);
    this.#trace({ kind: 'link', from, to, reason: 'default' });
  }

  /** Symmetric partition: nothing passes between any member of `groupA` and any member of `groupB`, either way, until {@link heal}. */
  partition(groupA: Address | readonly Address[], groupB: Address | readonly Address[]): void {
    const [a, b] = [addresses('groupA', groupA), addresses('groupB', groupB)];
    for (const x of a) for (const y of b) {
      this.#faults.block(x, y);
      this.#faults.block(y, x);
    }
    this.#trace({ kind: 'partition', from: a.join(','), to: b.join(',') });
  }

  /** One-way partition: nothing passes from any of `from` to any of `to` until {@link heal}; the other way works. */
  partitionOneWay(from: Address | readonly Address[], to: Address | readonly Address[]): void {
    const [a, b] = [addresses('from', from), addresses('to', to)];
    for (const x of a) for (const y of b) this.#faults.block(x, y);
    this.#trace({ kind: 'partition-one-way', from: a.join(','), to: b.join(',') });
  }

  /** Cuts `address` off from everyone else, both ways, until {@link heal} (it still reaches itself). */
  isolate(address: Address): void {
    checkAddress('address', address);
    this.#faults.isolate(address);
    this.#trace({ kind: 'isolate', from: address });
  }

  /** Ends every partition and isolation; held directions retransmit after one latency (clogs run their course). */
  heal(): void {
    this.#faults.heal();
    this.#trace({ kind: 'heal' });
    for (const pipe of [...this.#stalled]) pipe.resume();
  }

  /**
   * Delays everything to or from `address` for `ms` from now: frames and handshakes sent meanwhile
   * leave when it ends (then take their latency), and frames already in flight wait for its end.
   * Connections survive a clog. Clogs of one address overlap, never shorten.
   */
  clog(address: Address, ms: number): void {
    checkAddress('address', address);
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw invalidArgument('ms', ms, 'a finite number ≥ 0');
    this.#faults.clog(address, this.#clock.now() + ms);
    this.#trace({ kind: 'clog', from: address, reason: `${ms} ms` });
  }

  /** Breaks every connection to or from `address` now: both sides close with CONNECTION_CLOSED. @returns how many. */
  disconnectAddress(address: Address): number {
    let count = 0;
    for (const pair of [...this.#pairs]) {
      if (pair.client.localAddress !== address && pair.server.localAddress !== address) continue;
      pair.breakBoth(`network disconnected ${show(address)}`);
      count++;
    }
    return count;
  }

  #trace(event: Omit<SimNetworkEvent, 'atMs'>): void {
    this.#counts[event.kind]++;
    this.onEvent?.({ atMs: this.#clock.now(), ...event });
  }

  #listen(address: Address, own: SimListener[]): Listener {
    checkAddress('address', address);
    if (this.#listeners.has(address)) {
      throw new ClusterluckError('ADDRESS_IN_USE', `address ${show(address)} is already listened on`);
    }
    const listener = new SimListener(address, () => {
      if (this.#listeners.get(address) === listener) this.#listeners.delete(address);
      own.splice(own.indexOf(listener), 1);
    });
    this.#listeners.set(address, listener);
    own.push(listener);
    return listener;
  }
}

/** Accepts connections on one address of a {@link SimNetwork}. */
class SimListener extends TypedEventTarget<ListenerEvents> implements Listener, DialTarget {
  readonly address: Address;
  readonly #onClose: () => void;
  #closed = false;

  constructor(address: Address, onClose: () => void) {
    super();
    this.address = address;
    this.#onClose = onClose;
  }

  accept(conn: SimConnection): void {
    conn.expose();
    this.emit('connection', conn);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    this.emit('close');
  }
}

function addresses(field: string, value: Address | readonly Address[]): Address[] {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? [...(value as readonly unknown[])] : undefined;
  if (list === undefined) throw invalidArgument(field, value, 'an address or a list of addresses');
  list.forEach((a, i) => checkAddress(`${field}[${i}]`, a));
  return list as Address[];
}

function checkAddress(field: string, address: unknown): asserts address is Address {
  if (typeof address !== 'string' || address === '' || address.length > nodeIdLengthMax) {
    throw invalidArgument(field, address, `a non-empty string of at most ${nodeIdLengthMax} characters`);
  }
}

function positiveInt(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw invalidArgument(field, value, 'a positive safe integer');
  }
  return value;
}
