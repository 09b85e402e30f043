// Signalling through the cluster itself. A node reaches its first member through a bootstrap
// signaller (a PeerJS server); from then on, offers, answers and candidates for its further
// WebRTC links travel as kernel calls: straight to the destination when a link to it is open,
// otherwise through one member that has a link to both ends. So the mesh keeps growing and
// healing once the bootstrap server is gone, and only members holding the cookie can signal.
//
// Payloads to one address are sent one after another (the next waits for the previous hop's
// answer), which keeps the Signaller's in-order promise even when a relay fails over.
//
// Over 300 lines on purpose: one composite with one state (claims, routes, per-address send
// order, the fallback's claims kept held with backoff), read by both sides of every hop. The
// relay actor is signal-relay.ts.
import { nodeIdLengthMax, signalRelayTimeoutMsDefault, signalRoutesMax } from '../constants.js';
import type { TimerHandle } from '../env/clock.js';
import { ClusterluckError, invalidArgument, isClusterluckError, show } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import type { SignalClaim, SignalReceiver, Signaller, SignalUnreachable } from '../env/signaller.js';
import type { Address } from '../env/transport.js';
import type { NetKernel } from '../kernel/net-kernel.js';
import { SignalRelay, signalRelayName, type Hop } from './signal-relay.js';

export { signalRelayName } from './signal-relay.js';


/** Options of {@link clusterSignaller}. */
export interface ClusterSignallerOptions {
  /** Carries signalling while this node has no link into the cluster (e.g. `peerjsSignaller`). */
  readonly fallback?: Signaller;
  /** How long one hop through the cluster may take before the next route is tried. @default signalRelayTimeoutMsDefault (3000) */
  readonly relayTimeoutMs?: number;
}

/** What a {@link ClusterSignaller} carried; counters only grow. */
export interface ClusterSignalStats {
  /** Payloads this node sent through the cluster (directly or through a relay). */
  sentViaCluster: number;
  /** Payloads this node sent through the fallback. */
  sentViaFallback: number;
  /** Payloads this node received through the cluster. */
  delivered: number;
  /** Payloads this node forwarded between two other members. */
  relayed: number;
}

/**
 * The bootstrap signaller (the PeerJS server) as this node sees it: `none` without one,
 * `connecting` until its first claim is held, `open` while every claim on it is held, `lost` while
 * one is being claimed again (after the server went away or refused it, with backoff and jitter).
 */
export type SignalingState = 'none' | 'connecting' | 'open' | 'lost';

/** Events of a {@link ClusterSignaller}. */
export interface ClusterSignallerEvents {
  /** The bootstrap signaller's state changed; `error` says why when it is `lost`. */
  signaling: CustomEvent<{ readonly state: SignalingState; readonly error?: Error }>;
}

/** First wait before claiming a lost bootstrap address again; it doubles per failure. */
export const signalReclaimMinMs = 500;
/** Longest wait between two claims of a lost bootstrap address. */
export const signalReclaimMaxMs = 30_000;

/** A {@link Signaller} that routes through a kernel once {@link ClusterSignaller.attach}ed. */
export interface ClusterSignaller extends Signaller {
  readonly stats: ClusterSignalStats;
  /** The bootstrap signaller's state (see {@link SignalingState}). */
  readonly signaling: SignalingState;
  /** Why the last claim on the bootstrap signaller failed or ended, until one is held again. */
  readonly signalingError: Error | undefined;
  readonly events: TypedEventTarget<ClusterSignallerEvents>;
  /** Routes through `kernel` from now on and serves as a relay for the other members. */
  attach(kernel: NetKernel): void;
}

/** A claim on the fallback, kept held: claimed again whenever it is lost, until released. */
interface Outer {
  readonly address: Address;
  claim: SignalClaim | undefined;
  /** Failed claims since the last one held (the backoff's exponent). */
  failures: number;
  released: boolean;
  timer: TimerHandle | undefined;
}

/** How an answer to an address goes: through the fallback, or to the node that holds it. */
type Route = { readonly via: 'fallback' } | { readonly via: 'cluster'; readonly node: string };

/**
 * Composes in-cluster signalling over a bootstrap `fallback`. Transport, kernel and this come in
 * that order (the transport needs the signaller, the kernel the transport), so the kernel is
 * given later with `attach`; until then, and for destinations no member can reach, it is the
 * fallback alone.
 */
export function clusterSignaller(options: ClusterSignallerOptions = {}): ClusterSignaller {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an options object');
  if (options.fallback !== undefined && typeof options.fallback.claim !== 'function') {
    throw invalidArgument('options.fallback', options.fallback, 'a Signaller');
  }
  const relayTimeoutMs = options.relayTimeoutMs ?? signalRelayTimeoutMsDefault;
  if (!Number.isSafeInteger(relayTimeoutMs) || relayTimeoutMs < 1) {
    throw invalidArgument('options.relayTimeoutMs', relayTimeoutMs, 'a positive integer of ms');
  }
  return new Composite(options.fallback, relayTimeoutMs);
}

class Composite implements ClusterSignaller {
  readonly stats: ClusterSignalStats = { sentViaCluster: 0, sentViaFallback: 0, delivered: 0, relayed: 0 };
  readonly events = new TypedEventTarget<ClusterSignallerEvents>();
  readonly #fallback: Signaller | undefined;
  readonly #relayTimeoutMs: number;
  readonly #claims = new Map<Address, SignalReceiver>();
  readonly #routes = new Map<Address, Route>();
  /** The last send to each address, so the next one waits for it. */
  readonly #tails = new Map<Address, Promise<void>>();
  /** The member that last relayed to each address: tried first next time. */
  readonly #relays = new Map<Address, string>();
  readonly #outers = new Set<Outer>();
  #relay: SignalRelay | undefined;
  #lastAnonymous = 0;
  #state: SignalingState;
  #error: Error | undefined;

  constructor(fallback: Signaller | undefined, relayTimeoutMs: number) {
    this.#fallback = fallback;
    this.#relayTimeoutMs = relayTimeoutMs;
    this.#state = fallback === undefined ? 'none' : 'connecting';
  }

  get signaling(): SignalingState {
    return this.#state;
  }

  get signalingError(): Error | undefined {
    return this.#error;
  }

  attach(kernel: NetKernel): void {
    if (this.#relay !== undefined) throw new ClusterluckError('ALREADY_EXISTS', `already attached to ${show(this.#relay.kernel.self.id)}`);
    this.#relay = new SignalRelay(kernel, this.#relayTimeoutMs, this.stats, (hop) => this.#deliver(hop)).start(signalRelayName);
  }

  async claim(address: Address | undefined, receive: SignalReceiver, unreachable?: SignalUnreachable): Promise<SignalClaim> {
    if (address !== undefined && (typeof address !== 'string' || address === '' || address.length > nodeIdLengthMax)) {
      throw invalidArgument('address', address, `a non-empty string of at most ${nodeIdLengthMax} characters`);
    }
    if (typeof receive !== 'function') throw invalidArgument('receive', receive, 'a function');
    if (address !== undefined && this.#claims.has(address)) throw new ClusterluckError('ADDRESS_IN_USE', `address ${show(address)} is already claimed`);
    const fromFallback = (from: Address, payload: unknown): void => {
      this.#remember(from, { via: 'fallback' });
      receive(from, payload);
    };
    const outer = await this.#claimFallback(address, fromFallback, unreachable);
    const claimed = outer?.address ?? address ?? this.#anonymous();
    if (this.#claims.has(claimed)) {
      await this.#releaseOuter(outer);
      throw new ClusterluckError('ADDRESS_IN_USE', `address ${show(claimed)} is already claimed`);
    }
    this.#claims.set(claimed, receive);
    let released = false;
    return {
      address: claimed,
      send: (to, payload) => {
        if (released) return Promise.reject(new ClusterluckError('CONNECTION_CLOSED', `signal claim ${show(claimed)} was released`));
        return this.#inOrder(to, () => this.#send(claimed, outer?.claim, to, payload));
      },
      release: async () => {
        if (released) return;
        released = true;
        if (this.#claims.get(claimed) === receive) this.#claims.delete(claimed);
        await this.#releaseOuter(outer);
      },
    };
  }

  /**
   * The fallback's claim, kept held; undefined without a fallback. Once attached, a claim the
   * fallback refuses or loses (its server down or restarted) does not fail this node: it is
   * claimed again with backoff, and the state says `lost` meanwhile.
   */
  async #claimFallback(address: Address | undefined, receive: SignalReceiver, unreachable: SignalUnreachable | undefined): Promise<Outer | undefined> {
    if (this.#fallback === undefined) {
      if (this.#relay === undefined) throw new ClusterluckError('NOT_CONNECTED', 'no fallback signaller and no kernel attached yet');
      return undefined;
    }
    const fallback = this.#fallback;
    let outer: Outer | undefined;
    const lost = (error: Error): void => {
      if (outer === undefined || outer.released) return;
      outer.claim = undefined;
      this.#failed(outer, error, again);
    };
    const again = (): void => {
      if (outer === undefined || outer.released) return;
      const o = outer;
      fallback.claim(o.address, receive, unreachable, lost).then((claim) => {
        if (o.released) return void claim.release();
        o.claim = claim;
        o.failures = 0;
        this.#relay?.kernel.env.logger.info('signalling server claim held again', { address: o.address });
        this.#update();
      }, (err: unknown) => this.#failed(o, err instanceof Error ? err : new Error(String(err)), again));
    };
    try {
      const claim = await fallback.claim(address, receive, unreachable, lost);
      outer = { address: claim.address, claim, failures: 0, released: false, timer: undefined };
      this.#outers.add(outer);
      this.#update();
      return outer;
    } catch (err) {
      // A bootstrap server that is down is no reason to stop once the cluster can signal: claim
      // again later (and say so); refusal of the address itself is final.
      if (isClusterluckError(err, 'ADDRESS_IN_USE') || this.#relay === undefined) throw err;
      outer = { address: address ?? this.#anonymous(), claim: undefined, failures: 0, released: false, timer: undefined };
      this.#outers.add(outer);
      this.#failed(outer, err instanceof Error ? err : new Error(String(err)), again);
      return outer;
    }
  }

  /** A claim on the fallback failed or ended: claim it again after a backoff with jitter. */
  #failed(outer: Outer, error: Error, again: () => void): void {
    if (outer.released) return;
    const env = this.#relay?.kernel.env;
    this.#error = error;
    this.#update();
    if (env === undefined) return;
    const ceiling = Math.min(signalReclaimMaxMs, signalReclaimMinMs * 2 ** Math.min(outer.failures, 16));
    const waitMs = Math.round(ceiling / 2 + env.random.next() * ceiling / 2);
    outer.failures++;
    env.logger.warn('signalling server unreachable; claiming again', { address: outer.address, inMs: waitMs, error: error.message });
    if (outer.timer !== undefined) env.clock.cancelTimer(outer.timer);
    outer.timer = env.clock.setTimer(waitMs, () => {
      outer.timer = undefined;
      again();
    });
  }

  async #releaseOuter(outer: Outer | undefined): Promise<void> {
    if (outer === undefined) return;
    outer.released = true;
    this.#outers.delete(outer);
    if (outer.timer !== undefined) this.#relay?.kernel.env.clock.cancelTimer(outer.timer);
    outer.timer = undefined;
    const claim = outer.claim;
    outer.claim = undefined;
    await claim?.release();
    this.#update();
  }

  #update(): void {
    if (this.#fallback === undefined) return;
    const outers = [...this.#outers];
    const next: SignalingState = outers.some((o) => o.claim === undefined) ? 'lost'
      : outers.length > 0 ? 'open' : this.#state;
    if (next === 'open') this.#error = undefined;
    if (next === this.#state) return;
    this.#state = next;
    this.events.emit('signaling', { state: next, ...(this.#error === undefined ? {} : { error: this.#error }) });
  }

  #anonymous(): Address {
    const relay = this.#relay as SignalRelay;
    return `~${relay.kernel.self.id}~${++this.#lastAnonymous}`;
  }

  #inOrder(to: Address, task: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(to) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(task);
    const tail = next.catch(() => undefined);
    this.#tails.set(to, tail);
    void tail.then(() => {
      if (this.#tails.get(to) === tail) this.#tails.delete(to);
    });
    return next;
  }

  async #send(from: Address, outer: SignalClaim | undefined, to: Address, payload: unknown): Promise<void> {
    const route = this.#routes.get(to);
    const relay = this.#relay;
    const viaFallback = async (why: string): Promise<void> => {
      if (outer === undefined) throw new ClusterluckError('CONNECTION_REFUSED', `no signalling route to ${show(to)}: ${why}`);
      await outer.send(to, payload);
      this.stats.sentViaFallback++;
    };
    if (relay === undefined || !relay.kernel.running) return viaFallback('not in a cluster');
    const kernel = relay.kernel;
    const toNode = route?.via === 'cluster' ? route.node : kernel.connectedNodes().find((n) => n.address === to)?.id;
    if (toNode !== undefined && kernel.isConnected(toNode)) {
      await relay.hop(toNode, 'deliver', { from, to, toNode, fromNode: kernel.self.id, payload });
      this.stats.sentViaCluster++;
      return;
    }
    if (route?.via === 'fallback' && outer !== undefined) {
      try {
        await outer.send(to, payload);
        this.stats.sentViaFallback++;
        return;
      } catch {
        // The bootstrap server is gone: try the members.
      }
    }
    const sticky = this.#relays.get(to);
    const members = kernel.connectedNodes().map((n) => n.id).sort((a, b) => Number(b === sticky) - Number(a === sticky));
    const hop: Hop = { from, to, payload, ...(toNode === undefined ? {} : { toNode }) };
    for (const member of members) {
      try {
        await relay.hop(member, 'relay', hop);
        this.stats.sentViaCluster++;
        this.#relays.set(to, member);
        return;
      } catch (err) {
        // Refused means the destination was reached and holds no such address: final.
        if (isClusterluckError(err, 'CONNECTION_REFUSED')) throw err;
      }
    }
    this.#relays.delete(to);
    return viaFallback(members.length === 0 ? 'no link into the cluster' : `no member reaches it (${members.length} tried)`);
  }

  /** A payload that reached this node through the cluster. */
  #deliver(hop: Hop): void {
    const receive = this.#claims.get(hop.to);
    if (receive === undefined) throw new ClusterluckError('CONNECTION_REFUSED', `nobody listens on ${show(hop.to)}`);
    this.#remember(hop.from, { via: 'cluster', node: hop.fromNode as string });
    this.stats.delivered++;
    receive(hop.from, hop.payload);
  }

  #remember(address: Address, route: Route): void {
    this.#routes.delete(address);
    this.#routes.set(address, route);
    if (this.#routes.size > signalRoutesMax) this.#routes.delete(this.#routes.keys().next().value as Address);
  }
}
