// Rooms: members that share a room name find each other through the signalling server instead of
// a hand-picked seed. The room has one well-known address on the server (derived from its name),
// which one member at a time claims, and the server refuses a second claim (ADDRESS_IN_USE): a
// node that claims it at start is the room's first member and founds the cluster; one that finds
// it taken dials it and joins the holder's cluster. So two nodes that can both reach the server
// never both found (the server decides who is first, as a lock service would).
//
// When the holder goes (its tab closed, or the server restarted and forgot every claim), the
// address is free until a member claims it again: each member that does not hold it tries every
// `checkMs` (with jitter), and a holder that stops hands it over at once to another member. A new
// node that claims it in that gap founds alone; the next member to find the address taken by a
// node outside its view meets it, and a lone founder joins the bigger cluster (see GossipRing's
// `#met`). Two clusters of several members never merge: that is logged and signalled (`split`).
import { sha256 } from '@noble/hashes/sha2.js';
import { dialTimeoutMsDefault } from '../constants.js';
import type { NodeId } from '../core/node-id.js';
import type { TimerHandle } from '../env/clock.js';
import { toHex, utf8 } from '../env/bytes.js';
import { ClusterluckError, isClusterluckError, show } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import type { SignalClaim, SignalLost, Signaller } from '../env/signaller.js';
import type { Address } from '../env/transport.js';
import { GenServer } from '../kernel/gen-server.js';
import type { ClusterNode } from './cluster-node.js';

/** The actor every room member registers, which says whether it holds the room's address. */
export const roomActorName = 'clusterluck-room';
/** Time between a non-holder's attempts to claim its room's address. */
export const roomCheckMsDefault = 2000;
/** Longest room name. */
export const roomNameLengthMax = 256;

/** The signalling address of room `name`: a PeerJS-safe id, the same on every node. */
export function roomAddress(name: string): string {
  return `clusterluck-room-${toHex(sha256(utf8(name))).slice(0, 32)}`;
}

/** What a room needs of its transport: another address answered by its listener (the WebRTC transport's `alias`). */
export interface AliasTransport {
  alias(local: Address, address: Address, signaller: Signaller, lost?: SignalLost): Promise<SignalClaim>;
}

/** Events of a {@link Room}. */
export interface RoomEvents {
  /** This member claimed the room's address (`holding` true) or lost or gave it up (false). */
  holding: CustomEvent<{ readonly holding: boolean }>;
  /**
   * The room's address is held by `holder`, a node outside this member's view: two clusters in one
   * room. This member met it; a lone node joins the bigger cluster, two bigger ones stay apart.
   */
  split: CustomEvent<{ readonly holder: string }>;
}

/** One member's part in a room: holding its address, or checking that a member of its view does. */
export class Room {
  readonly name: string;
  readonly address: string;
  readonly events = new TypedEventTarget<RoomEvents>();
  readonly #node: ClusterNode;
  readonly #transport: AliasTransport;
  readonly #signaller: Signaller;
  readonly #checkMs: number;
  #claim: SignalClaim | undefined;
  /** The member last found holding the address. */
  #holder: string | undefined;
  #actor: RoomActor | undefined;
  #timer: TimerHandle | undefined;
  #ticking = false;
  #stopped = false;

  constructor(name: string, node: ClusterNode, transport: AliasTransport, signaller: Signaller, checkMs = roomCheckMsDefault) {
    this.name = name;
    this.address = roomAddress(name);
    this.#node = node;
    this.#transport = transport;
    this.#signaller = signaller;
    this.#checkMs = checkMs;
  }

  /** Whether this member holds the room's address now. */
  get holding(): boolean {
    return this.#claim !== undefined;
  }

  /**
   * Claims the room's address for this node's listener: true when held, false when another node
   * holds it (ADDRESS_IN_USE); rejects when the signalling server cannot be reached.
   */
  async claim(): Promise<boolean> {
    if (this.#claim !== undefined) return true;
    const self = this.#node.kernel.self;
    try {
      let claim: SignalClaim | undefined;
      claim = await this.#transport.alias(self.address, this.address, this.#signaller, (error) => this.#lost(claim, error));
      if (this.#stopped || this.#claim !== undefined) {
        await claim.release();
        return this.#claim !== undefined;
      }
      this.#claim = claim;
      this.#holder = self.id;
      this.#node.kernel.env.logger.info('holding the room', { room: this.name, address: this.address });
      this.events.emit('holding', { holding: true });
      return true;
    } catch (err) {
      if (isClusterluckError(err, 'ADDRESS_IN_USE')) return false;
      throw err;
    }
  }

  /** Serves `holds` and `claim` to the other members and checks the address every `checkMs` from now on. */
  start(): this {
    this.#actor = new RoomActor(this.#node, () => this.holding, () => this.#soon()).start(roomActorName);
    this.#schedule();
    return this;
  }

  /**
   * Stops checking and gives the address up; with `handOver`, asks another member of the view to
   * claim it at once (the gap in which a new node would found alone is then one round trip).
   */
  async stop(handOver: boolean): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const env = this.#node.kernel.env;
    if (this.#timer !== undefined) env.clock.cancelTimer(this.#timer);
    const claim = this.#claim;
    this.#claim = undefined;
    if (claim !== undefined) {
      await claim.release().catch(() => undefined);
      this.events.emit('holding', { holding: false });
      const next = handOver ? this.#others()[0] : undefined;
      if (next !== undefined && this.#actor !== undefined) {
        await this.#actor.call({ node: next, name: roomActorName }, 'claim', null, { timeoutMs: 1000 }).catch(() => undefined);
      }
    }
    await this.#actor?.stop();
  }

  #others(): string[] {
    const self = this.#node.kernel.self.id;
    return (this.#node.gossip.view()?.members ?? []).map((m) => m.id).filter((id) => id !== self && this.#node.kernel.isConnected(id)).sort();
  }

  #lost(claim: SignalClaim | undefined, error: Error): void {
    if (claim === undefined || this.#claim !== claim) return;
    this.#claim = undefined;
    this.#node.kernel.env.logger.warn('lost the room address; claiming it again', { room: this.name, error: error.message });
    this.events.emit('holding', { holding: false });
    this.#soon();
  }

  /** Checks again shortly (another member asked, or the claim was lost). */
  #soon(): void {
    if (this.#stopped) return;
    const env = this.#node.kernel.env;
    if (this.#timer !== undefined) env.clock.cancelTimer(this.#timer);
    this.#timer = env.clock.setTimer(Math.round(env.random.next() * 100), () => this.#tick());
  }

  #schedule(): void {
    if (this.#stopped) return;
    const env = this.#node.kernel.env;
    if (this.#timer !== undefined) env.clock.cancelTimer(this.#timer);
    this.#timer = env.clock.setTimer(Math.round(this.#checkMs * (0.5 + env.random.next())), () => this.#tick());
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#stopped || this.#ticking) return this.#schedule();
    this.#ticking = true;
    void this.#check().catch((err: unknown) => {
      this.#node.kernel.env.logger.debug('room check failed', { room: this.name, error: String(err) });
    }).finally(() => {
      this.#ticking = false;
      this.#schedule();
    });
  }

  /** Claims the address if it is free; otherwise makes sure a member of this view holds it. */
  async #check(): Promise<void> {
    if (this.#claim !== undefined || await this.claim()) return;
    const kernel = this.#node.kernel;
    const holder = this.#holder;
    // Most checks end here: the member found last time still says it holds the address.
    const known = kernel.connectedNodes().find((n) => n.id === holder && n.id !== kernel.self.id);
    if (known !== undefined && this.#actor !== undefined) {
      const holds = await this.#actor.call({ node: known.id, name: roomActorName }, 'holds', null, { timeoutMs: 2000 }).catch(() => false);
      if (holds === true) return this.#inView(known.id) ? undefined : this.#foreign(known);
    }
    const abort = new AbortController();
    const timer = kernel.env.clock.setTimer(dialTimeoutMsDefault, () => abort.abort(new ClusterluckError('TIMEOUT', `no answer from the holder of room ${show(this.name)}`)));
    const found = await kernel.connectAddress(this.address, { signal: abort.signal }).finally(() => kernel.env.clock.cancelTimer(timer));
    this.#holder = found.id;
    if (!this.#inView(found.id)) this.#foreign(found);
  }

  #inView(id: string): boolean {
    return this.#node.gossip.view()?.members.some((m) => m.id === id) ?? false;
  }

  #foreign(holder: NodeId): void {
    this.#node.kernel.env.logger.warn('the room is held by a node outside this view: meeting it', { room: this.name, holder: holder.id });
    this.events.emit('split', { holder: holder.id });
    this.#node.meet(holder);
  }
}

/** Answers `holds` (does this member hold the room's address?) and `claim` (a holder handing it over). */
class RoomActor extends GenServer {
  constructor(node: ClusterNode, holding: () => boolean, claimSoon: () => void) {
    super(node.kernel);
    this.handle('holds', () => holding());
    this.handle('claim', () => {
      claimSoon();
      return true;
    });
  }
}
