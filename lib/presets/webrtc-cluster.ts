// A cluster member over WebRTC, wherever an RTCPeerConnection exists (a tab, or Node with one
// passed in): it reaches its first member through a bootstrap signaller (a PeerJS server), and
// every further link is signalled through the cluster (see ../cluster/cluster-signaller.ts).
import { ClusterNode, type ClusterNodeOptions } from '../cluster/cluster-node.js';
import { clusterSignaller, type ClusterSignaller } from '../cluster/cluster-signaller.js';
import { storedNodeId } from '../cluster/node-identity.js';
import { Room, roomCheckMsDefault, roomNameLengthMax } from '../cluster/room.js';
import { nodeIdLengthMax, webrtcAutoRemoveAfterMsDefault } from '../constants.js';
import { toHex } from '../env/bytes.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import { silentLogger, type Logger } from '../env/logger.js';
import type { Signaller } from '../env/signaller.js';
import type { Storage } from '../env/storage.js';
import { cryptoRandom } from '../platform/crypto-random.js';
import { systemClock } from '../platform/system-clock.js';
import { webrtcTransport, type WebRtcIceServer, type WebRtcImplementation, type WebRtcTransport } from '../transports/webrtc/transport.js';
import { peerjsSignaller, type PeerjsSignallerOptions } from '../transports/webrtc/signal-peerjs.js';

/** Where a PeerJS server is: {@link PeerjsSignallerOptions} without the clock, which the node brings. */
export type PeerjsServer = Omit<PeerjsSignallerOptions, 'clock'>;

/** Options of {@link createWebRtcNode}. */
export interface WebRtcNodeOptions extends Omit<ClusterNodeOptions, 'env' | 'address' | 'id'> {
  /**
   * This node's cluster-unique id, also its WebRTC address. @default the id kept in `storage`
   * (16 random hex digits on the first start, stored), or 16 random hex digits without storage
   */
  readonly id?: string;
  /** How the node reaches its first member: a PeerJS server, or any other {@link Signaller}. */
  readonly signaling: PeerjsServer | Signaller;
  /** A member to join through, by id. Without it (and without `room`) the node founds a cluster of its own. */
  readonly seed?: string;
  /**
   * A room to meet in instead of a seed: nodes given the same room (on the same signalling server
   * and key) form one cluster. The server decides who is first: the node that claims the room's
   * address founds, every later one joins whoever holds it; members claim it again when its holder
   * goes (see {@link Room}). Without a seed, a room node whose signalling server cannot be
   * reached does not start (CONNECTION_REFUSED): it cannot tell whether it would be first.
   */
  readonly room?: string;
  /** Time between a room member's checks that its room's address is held in its view. @default roomCheckMsDefault (2000) */
  readonly roomCheckMs?: number;
  /**
   * Reject (CONNECTION_REFUSED, with the server's error) when this node's address could not be
   * claimed on the signalling server at start. Otherwise such a node starts anyway, logs a
   * warning, reports `signaller.signaling` 'lost' (with a `signaling` event) and keeps claiming
   * it with backoff, as it does whenever the server goes away later. @default false
   */
  readonly requireSignaling?: boolean;
  /** RTC classes, e.g. node-datachannel's polyfill in Node. @default the ones on globalThis */
  readonly wrtc?: WebRtcImplementation;
  /** STUN/TURN servers; none are needed on a LAN or loopback. @default [] */
  readonly iceServers?: readonly WebRtcIceServer[];
  /** A dial whose data channel is not open after this long fails. @default 10000 */
  readonly dialTimeoutMs?: number;
  /** Where the semaphore table persists (`dsm.disk` is then on unless set). @default none */
  readonly storage?: Storage;
  /** @default silentLogger */
  readonly logger?: Logger;
}

/**
 * A {@link ClusterNode} over WebRTC; `stop()` also closes the transport and its signalling
 * claims, and `signaller` tells how many payloads went through the cluster.
 */
export class WebRtcClusterNode extends ClusterNode {
  readonly transport: WebRtcTransport;
  readonly signaller: ClusterSignaller;
  /** This member's room, when it was given one. */
  readonly room: Room | undefined;

  constructor(
    options: ClusterNodeOptions & { readonly env: { readonly transport: WebRtcTransport } }, signaller: ClusterSignaller,
    room?: { readonly name: string; readonly signaller: Signaller; readonly checkMs: number },
  ) {
    super(options);
    this.transport = options.env.transport;
    this.signaller = signaller;
    signaller.attach(this.kernel);
    this.room = room === undefined ? undefined : new Room(room.name, this, this.transport, room.signaller, room.checkMs);
  }

  /** Connects to the member with id `seed` (through the bootstrap signaller) and joins its cluster. */
  async join(seed: string): Promise<this> {
    checkSeed(seed);
    return this.meet(await this.kernel.connectAddress(seed));
  }

  /** A leaving holder of the room's address hands it to another member before it goes. */
  override async stop(options: { leave?: boolean } = {}): Promise<void> {
    await this.room?.stop(options.leave !== false);
    await super.stop(options);
    await this.transport.close();
  }
}

/**
 * Starts a cluster member over WebRTC: kernel, GossipRing with auto-remove (a tab may vanish
 * without leaving) and DSMServer, persisting to `storage` when given; joins `seed` when given.
 * What `held` lists is released once the node has stopped, or when it fails to start.
 */
export async function createWebRtcNode(options: WebRtcNodeOptions): Promise<WebRtcClusterNode> {
  try {
    return await startWebRtcNode(options);
  } catch (err) {
    for (const h of options?.held ?? []) await h.release();
    throw err;
  }
}

async function startWebRtcNode(options: WebRtcNodeOptions): Promise<WebRtcClusterNode> {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an options object');
  const { signaling, storage } = options;
  if (typeof signaling !== 'object' || signaling === null) throw invalidArgument('signaling', signaling, 'a PeerJS server { host, port } or a Signaller');
  if (options.seed !== undefined) checkSeed(options.seed);
  const roomName = options.room;
  if (roomName !== undefined && (typeof roomName !== 'string' || roomName === '' || roomName.length > roomNameLengthMax)) {
    throw invalidArgument('room', roomName, `a room name of 1 to ${roomNameLengthMax} characters`);
  }
  const roomCheckMs = options.roomCheckMs ?? roomCheckMsDefault;
  if (!Number.isSafeInteger(roomCheckMs) || roomCheckMs < 1) throw invalidArgument('roomCheckMs', roomCheckMs, 'a positive integer of ms');
  const clock = systemClock();
  const random = cryptoRandom();
  const fresh = (): string => toHex(random.bytes(8));
  const id = options.id ?? (storage === undefined ? fresh() : await storedNodeId(storage, fresh));
  const fallback = 'claim' in signaling ? signaling : peerjsSignaller({ ...signaling, clock });
  const signaller = clusterSignaller({ fallback });
  const transport = webrtcTransport({
    signaller, clock,
    ...(options.wrtc === undefined ? {} : { wrtc: options.wrtc }),
    ...(options.iceServers === undefined ? {} : { iceServers: options.iceServers }),
    ...(options.dialTimeoutMs === undefined ? {} : { dialTimeoutMs: options.dialTimeoutMs }),
  });
  const env = { clock, random, transport, logger: options.logger ?? silentLogger, ...(storage === undefined ? {} : { storage }) };
  const node = new WebRtcClusterNode({
    ...options, id, address: id, env,
    gossip: { autoRemoveAfterMs: webrtcAutoRemoveAfterMsDefault, ...options.gossip },
    dsm: { ...(storage === undefined ? {} : { disk: true }), ...options.dsm },
  }, signaller, roomName === undefined ? undefined : { name: roomName, signaller: fallback, checkMs: roomCheckMs });
  let seed = options.seed;
  try {
    // In a room without a seed, the signalling server decides: the node that claims the room's
    // address founds; any other joins whoever holds it.
    if (node.room !== undefined && seed === undefined) {
      const held = await node.room.claim().catch((err: unknown) => {
        throw new ClusterluckError('CONNECTION_REFUSED', `room ${show(node.room?.name)} needs its signalling server to start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
      if (!held) seed = node.room.address;
    }
    // With a seed, the DSMServer serves only once the seed's ring has arrived (see ClusterNode.start).
    const via = seed;
    await node.start(via === undefined ? {} : { seed: (n) => n.kernel.connectAddress(via) });
    if (options.requireSignaling === true && signaller.signaling === 'lost') {
      throw new ClusterluckError('CONNECTION_REFUSED', `could not claim ${show(id)} on the signalling server: ${signaller.signalingError?.message ?? 'unknown error'}`,
        signaller.signalingError === undefined ? undefined : { cause: signaller.signalingError });
    }
    node.room?.start();
  } catch (err) {
    await node.room?.stop(false);
    await node.stop({ leave: false });
    await transport.close();
    throw err;
  }
  return node;
}

function checkSeed(seed: unknown): asserts seed is string {
  if (typeof seed !== 'string' || seed === '' || seed.length > nodeIdLengthMax) throw invalidArgument('seed', seed, 'a member id');
}
