// The signalling relay: the actor on every member that forwards WebRTC signalling payloads to the
// member holding their destination, and hands those addressed to this member to its claims.
import { nodeIdLengthMax } from '../constants.js';
import type { NodeId } from '../core/node-id.js';
import { ClusterluckError, show } from '../env/errors.js';
import type { Address } from '../env/transport.js';
import { GenServer, type Job } from '../kernel/gen-server.js';
import type { NetKernel } from '../kernel/net-kernel.js';

/** The name every node's signalling relay registers under. */
export const signalRelayName = 'webrtc-signal';

/** What a relay forwards (`relay`) and a destination hands to its claim (`deliver`). */
export interface Hop {
  readonly from: Address;
  readonly to: Address;
  /** The node holding `to`, when the sender knows it; else the node whose address `to` is. */
  readonly toNode?: string;
  /** The node holding `from` (set by the relay, or by a sender delivering directly). */
  readonly fromNode?: string;
  readonly payload: unknown;
}

/** The actor on every member that forwards signalling payloads and hands them to local claims. */
export class SignalRelay extends GenServer {
  readonly #timeoutMs: number;

  constructor(kernel: NetKernel, timeoutMs: number, stats: { relayed: number }, deliver: (hop: Hop) => void) {
    super(kernel);
    this.#timeoutMs = timeoutMs;
    this.handle('relay', async (data, from) => {
      const hop = data as Hop;
      const target = this.#target(hop);
      if (target === undefined) throw new ClusterluckError('NOT_CONNECTED', `${show(kernel.self.id)} has no link to ${show(hop.to)}`);
      await this.hop(target.id, 'deliver', { ...hop, toNode: target.id, fromNode: from.node.id });
      stats.relayed++;
    });
    this.handle('deliver', (data) => deliver(data as Hop));
  }

  /** One call to the relay actor of `node`. */
  async hop(node: string, event: 'relay' | 'deliver', hop: Hop): Promise<void> {
    await this.call({ node, name: signalRelayName }, event, hop, { timeoutMs: this.#timeoutMs });
  }

  /** Checks each field before use: payloads come from the network. */
  override decodeSingleton(job: Job): Job | Error {
    const d = job.data as Partial<Record<keyof Hop, unknown>> | null;
    const address = (v: unknown): boolean => typeof v === 'string' && v !== '' && v.length <= nodeIdLengthMax;
    if ((job.event !== 'relay' && job.event !== 'deliver') || typeof d !== 'object' || d === null) {
      return new ClusterluckError('BAD_MESSAGE', `not a signalling hop: ${show(job.event)}`);
    }
    const ok = address(d.from) && address(d.to) && (d.toNode === undefined || address(d.toNode))
      && (job.event === 'relay' ? d.fromNode === undefined : address(d.fromNode));
    return ok ? job : new ClusterluckError('BAD_MESSAGE', `malformed ${job.event} hop`);
  }

  #target(hop: Hop): NodeId | undefined {
    const nodes = this.kernel.connectedNodes();
    return hop.toNode === undefined ? nodes.find((n) => n.address === hop.to) : nodes.find((n) => n.id === hop.toNode);
  }
}
