import type { NodeId } from '../core/node-id.js';
import { ClusterluckError } from '../env/errors.js';
import type { GenServer } from '../kernel/gen-server.js';

/**
 * Sends a gossip server's messages to the same-named server on other nodes. Gossip is best
 * effort, so nothing here throws or rejects: a failed call resolves undefined, a failed cast is
 * logged at debug level. `abortAll()` ends every call in flight (on stop and leave), so a relayed
 * probe never holds up `stop()`.
 */
export class GossipSender {
  readonly #server: GenServer;
  /** One controller per call in flight (not one shared signal, which would collect a listener per call). */
  readonly #calls = new Set<AbortController>();
  /**
   * Controllers of calls that ended without an abort, for the next calls: a call's listener goes
   * when it ends (the kernel's call table removes it), so a reused signal carries none. Making
   * one per probe cost an AbortSignal and its EventTarget each time.
   */
  readonly #idle: AbortController[] = [];

  /** A sender for `server` (its `name` is the destination name). */
  constructor(server: GenServer) {
    this.#server = server;
  }

  /** A call that resolves with the reply, or undefined on any failure (timeout, error, abort). */
  async call(node: NodeId, event: string, data: unknown, timeoutMs: number): Promise<unknown> {
    const name = this.#server.name;
    if (name === undefined) return undefined;
    const controller = this.#idle.pop() ?? new AbortController();
    this.#calls.add(controller);
    try {
      return await this.#server.call({ node, name }, event, data, { timeoutMs, signal: controller.signal });
    } catch {
      return undefined;
    } finally {
      // Not after abortAll(), which took it out and aborted it.
      if (this.#calls.delete(controller)) this.#idle.push(controller);
    }
  }

  /** A cast to a node (its NodeId, to connect on demand, or the id of a connected one); false when it could not be sent. */
  cast(node: NodeId | string, event: string, data: unknown): boolean {
    const name = this.#server.name;
    if (name === undefined) return false;
    try {
      this.#server.cast({ node, name }, event, data);
      return true;
    } catch (err) {
      this.#server.kernel.env.logger.debug('gossip send failed', { node: typeof node === 'string' ? node : node.id, error: String(err) });
      return false;
    }
  }

  /** Ends every call in flight (they resolve undefined). */
  abortAll(): void {
    const reason = new ClusterluckError('NOT_RUNNING', 'gossip ring stopped');
    for (const c of this.#calls) c.abort(reason);
    this.#calls.clear();
  }
}
