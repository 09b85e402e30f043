// An in-process Signaller for tests and for peers that share one page or process. Like the
// memory network it is an object, never module state, so two hubs never hear each other.
import { nodeIdLengthMax } from '../../constants.js';
import { ClusterluckError, invalidArgument, show } from '../../env/errors.js';
import type { Address } from '../../env/transport.js';
import type { SignalClaim, SignalReceiver, Signaller } from '../../env/signaller.js';

/** Delivers signalling payloads between claims made through it, asynchronously and in order. */
export class MemorySignalHub {
  readonly #claims = new Map<Address, SignalReceiver>();
  #lastAnonymous = 0;

  /** A {@link Signaller} on this hub. */
  signaller(): Signaller {
    return { claim: async (address, receive) => this.#claim(address, receive) };
  }

  /** Addresses currently claimed, anonymous ones included. */
  claimCount(): number {
    return this.#claims.size;
  }

  #claim(requested: Address | undefined, receive: SignalReceiver): SignalClaim {
    if (requested !== undefined && (typeof requested !== 'string' || requested === '' || requested.length > nodeIdLengthMax)) {
      throw invalidArgument('address', requested, `a non-empty string of at most ${nodeIdLengthMax} characters`);
    }
    if (typeof receive !== 'function') throw invalidArgument('receive', receive, 'a function');
    const address = requested ?? `~signal-${++this.#lastAnonymous}`;
    if (this.#claims.has(address)) throw new ClusterluckError('ADDRESS_IN_USE', `address ${show(address)} is already claimed`);
    this.#claims.set(address, receive);
    let released = false;
    return {
      address,
      send: async (to, payload) => {
        if (released) throw new ClusterluckError('CONNECTION_CLOSED', `signal claim ${show(address)} was released`);
        if (!this.#claims.has(to)) throw new ClusterluckError('CONNECTION_REFUSED', `nobody listens on ${show(to)}`);
        // Through JSON, as a real relay would: a payload that does not survive it fails here.
        const copy: unknown = JSON.parse(JSON.stringify(payload));
        queueMicrotask(() => this.#claims.get(to)?.(address, copy));
      },
      release: async () => {
        if (released) return;
        released = true;
        if (this.#claims.get(address) === receive) this.#claims.delete(address);
      },
    };
  }
}
