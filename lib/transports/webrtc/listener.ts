// The listening side of the WebRTC transport: answers offers that reach a claimed address.
import type { Clock } from '../../env/clock.js';
import { ClusterluckError, show } from '../../env/errors.js';
import { TypedEventTarget } from '../../env/events.js';
import type { Address, Listener, ListenerEvents } from '../../env/transport.js';
import type { WebRtcConnection } from './connection.js';
import type { RtcPeer, RtcChannel } from './peer.js';
import { isRetryable, negotiationFailed, readWire, signalPeer, type PeerHooks, type Session } from './session.js';
import type { SignalClaim, Signaller } from '../../env/signaller.js';

/** What a listener needs from its transport. */
export interface AcceptHost {
  readonly clock: Clock;
  /** A half-made connection that has not opened after this long is dropped. */
  readonly dialTimeoutMs: number;
  /** A peer connection that answers. */
  makePeer(hooks: PeerHooks): RtcPeer;
  /** Wraps an open channel into a connection the transport tracks until it ends. */
  openAccepted(peer: RtcPeer, channel: RtcChannel, local: Address, remote: Address, onEnd: () => void): WebRtcConnection;
}

/** Accepts WebRTC connections on one claimed address. */
export class WebRtcListener extends TypedEventTarget<ListenerEvents> implements Listener {
  readonly address: Address;
  readonly #host: AcceptHost;
  readonly #onClose: () => void;
  /** Incoming sessions by dialer address and cid. */
  readonly #sessions = new Map<string, Session>();
  #claim: SignalClaim | undefined;
  #closed = false;

  constructor(address: Address, host: AcceptHost, onClose: () => void) {
    super();
    this.address = address;
    this.#host = host;
    this.#onClose = onClose;
  }

  async start(signaller: Signaller): Promise<void> {
    this.#claim = await signaller.claim(this.address, (from, payload) => this.receiveVia(this.#claim as SignalClaim, from, payload), (to) => this.dialerGone(to));
  }

  /** A payload that reached `via` (this address, or another claim answering here, e.g. a room's); answers go back through `via`. */
  receiveVia(via: SignalClaim, from: Address, payload: unknown): void {
    const wire = readWire(payload);
    if (wire === undefined || this.#closed) return;
    const key = `${from}\n${wire.cid}`;
    const session = this.#sessions.get(key);
    if (session !== undefined) {
      if (wire.kind === 'signal') signalPeer(session, wire.data);
      else session.fail(new ClusterluckError('CONNECTION_CLOSED', `${show(from)} gave up the dial`));
      return;
    }
    if (wire.kind !== 'signal') return;
    this.#accept(via, from, wire.cid, key, wire.data);
  }

  /** The signaller could not deliver to `to`: its dials here are over. */
  dialerGone(to: Address): void {
    for (const session of [...this.#sessions.values()]) {
      if (session.remote === to) session.fail(new ClusterluckError('CONNECTION_CLOSED', `the dialer ${show(to)} is gone`));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const session of [...this.#sessions.values()]) session.fail(new ClusterluckError('CONNECTION_REFUSED', 'the listener closed'));
    this.#onClose();
    await this.#claim?.release();
    this.emit('close');
  }

  /** Answers a new dial; the session ends with the connection, or when it fails to open in time. */
  #accept(claim: SignalClaim, from: Address, cid: string, key: string, offer: unknown): void {
    const s = this.#host;
    let open = false;
    const fail = (error: ClusterluckError): void => {
      if (open || this.#sessions.get(key) !== session) return;
      this.#sessions.delete(key);
      s.clock.cancelTimer(timer);
      if (error.code !== 'CONNECTION_CLOSED') {
        claim.send(from, { cid, kind: isRetryable(error) ? 'failed' : 'refuse' }).catch(() => undefined);
      }
      peer.destroy();
    };
    const peer = this.#host.makePeer({
      signal: (data) => void claim.send(from, { cid, kind: 'signal', data }).catch(() => fail(new ClusterluckError('CONNECTION_CLOSED', 'the dialer is gone'))),
      connected: (channel) => {
        open = true;
        s.clock.cancelTimer(timer);
        const conn = this.#host.openAccepted(peer, channel, this.address, from, () => this.#sessions.delete(key));
        if (this.#closed) conn.abort(new ClusterluckError('CONNECTION_REFUSED', 'the listener closed'));
        else this.emit('connection', conn);
        return conn;
      },
      failed: (err) => fail(negotiationFailed(`could not accept from ${show(from)}: ${err.message}`, err)),
    });
    const session: Session = { peer, remote: from, fail };
    this.#sessions.set(key, session);
    const timer = s.clock.setTimer(s.dialTimeoutMs, () => fail(new ClusterluckError('TIMEOUT', `dial from ${show(from)} did not open in time`)));
    signalPeer(session, offer);
  }
}
