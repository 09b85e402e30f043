// A Signaller over a PeerJS server (the `peer` package): each claim is one WebSocket to it, with
// the claimed address as PeerJS id. Payloads travel as PeerJS CANDIDATE messages, which the
// server relays untouched; a payload for an id nobody holds is queued by the server and comes
// back as EXPIRE after its `expire_timeout`, which this reports through `unreachable`. A claim
// whose socket closes (the server restarted or went away) or that the server sends an ERROR ends
// and says so through `lost`; the cluster signaller claims the address again (with backoff).
import type { Clock, TimerHandle } from '../../env/clock.js';
import { ClusterluckError, invalidArgument, show } from '../../env/errors.js';
import type { Address } from '../../env/transport.js';
import type { SignalClaim, SignalLost, SignalReceiver, Signaller, SignalUnreachable } from '../../env/signaller.js';

/** The part of the WHATWG WebSocket this uses (`ws` in Node 20, the browser's own elsewhere). */
export interface WebSocketLike {
  send(data: string): void;
  close(): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

/** Options of {@link peerjsSignaller}. */
export interface PeerjsSignallerOptions {
  /** Host of the PeerJS server. */
  readonly host: string;
  /** Port of the PeerJS server. */
  readonly port: number;
  /** Path the server was mounted on. @default '/' */
  readonly path?: string;
  /** The server's API key. @default 'peerjs' */
  readonly key?: string;
  /** wss/https instead of ws/http. @default false */
  readonly secure?: boolean;
  /** Sends heartbeats, so the server keeps idle claims (it drops them after 90 s by default). */
  readonly clock: Clock;
  /** Time between heartbeats. @default 5000 (the peerjs client's `pingInterval`) */
  readonly heartbeatMs?: number;
  /** The WebSocket class to use. @default globalThis.WebSocket */
  readonly WebSocket?: new (url: string) => WebSocketLike;
}

/** Time between heartbeats to the PeerJS server, as the peerjs client's `pingInterval`. */
export const peerjsHeartbeatMsDefault = 5000;

/** A {@link Signaller} relaying through a PeerJS server. */
export function peerjsSignaller(options: PeerjsSignallerOptions): Signaller {
  const { host, port, clock } = options;
  if (typeof host !== 'string' || host === '') throw invalidArgument('options.host', host, 'a host name');
  if (!Number.isSafeInteger(port) || port < 1 || port > 65535) throw invalidArgument('options.port', port, 'a port from 1 to 65535');
  const Socket = options.WebSocket ?? (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  if (Socket === undefined) throw new ClusterluckError('UNSUPPORTED_PLATFORM', 'no WebSocket here: pass options.WebSocket');
  const path = (options.path ?? '/').replace(/\/?$/, '/');
  const key = options.key ?? 'peerjs';
  const base = `${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
  const http = `${options.secure === true ? 'https' : 'http'}://${base}`;
  const ws = `${options.secure === true ? 'wss' : 'ws'}://${base}peerjs`;
  const heartbeatMs = options.heartbeatMs ?? peerjsHeartbeatMsDefault;
  if (!Number.isSafeInteger(heartbeatMs) || heartbeatMs < 1) throw invalidArgument('options.heartbeatMs', heartbeatMs, 'a positive integer of ms');
  /** A fresh id from the server: the address of an anonymous claim, and every claim's secret token. */
  const freshId = async (): Promise<string> => {
    const response = await fetch(`${http}${encodeURIComponent(key)}/id`);
    if (!response.ok) throw new ClusterluckError('CONNECTION_REFUSED', `PeerJS server at ${show(http)} answered ${response.status}`);
    return response.text();
  };
  return {
    async claim(address, receive, unreachable, lost) {
      const token = await freshId();
      const id = address ?? await freshId();
      const url = `${ws}?key=${encodeURIComponent(key)}&id=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`;
      return open(new Socket(url), id, receive, unreachable, lost, { clock, heartbeatMs });
    },
  };
}

/** Resolves once the server says OPEN; ID-TAKEN is ADDRESS_IN_USE, anything else refusal. */
function open(
  socket: WebSocketLike, id: Address, receive: SignalReceiver, unreachable: SignalUnreachable | undefined, lost: SignalLost | undefined,
  t: { clock: Clock; heartbeatMs: number },
): Promise<SignalClaim> {
  return new Promise((resolve, reject) => {
    let state: 'opening' | 'open' | 'closed' = 'opening';
    let heartbeat: TimerHandle | undefined;
    let resolveClosed: () => void = () => undefined;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    const beat = (): void => {
      heartbeat = t.clock.setTimer(t.heartbeatMs, () => {
        if (state !== 'open') return;
        socket.send(JSON.stringify({ type: 'HEARTBEAT' }));
        beat();
      });
    };
    const claim: SignalClaim = {
      address: id,
      async send(to, payload) {
        if (state !== 'open') throw new ClusterluckError('CONNECTION_CLOSED', `signal claim ${show(id)} is closed`);
        socket.send(JSON.stringify({ type: 'CANDIDATE', dst: to, payload }));
      },
      async release() {
        if (state === 'closed') return;
        state = 'closed';
        if (heartbeat !== undefined) t.clock.cancelTimer(heartbeat);
        socket.close();
        await closed;
      },
    };
    socket.addEventListener('message', ({ data }) => {
      let message: { type?: unknown; src?: unknown; payload?: unknown };
      try {
        message = JSON.parse(String(data)) as typeof message;
      } catch {
        return;
      }
      if (state === 'opening') {
        if (message.type === 'OPEN') {
          state = 'open';
          beat();
          return resolve(claim);
        }
        state = 'closed';
        socket.close();
        return reject(message.type === 'ID-TAKEN'
          ? new ClusterluckError('ADDRESS_IN_USE', `address ${show(id)} is already claimed on the PeerJS server`)
          : new ClusterluckError('CONNECTION_REFUSED', `PeerJS server refused ${show(id)}: ${JSON.stringify(message.payload)}`));
      }
      if (state !== 'open') return;
      if (message.type === 'ERROR') {
        // The server gave up on this claim (e.g. it no longer knows the id): it is lost.
        state = 'closed';
        socket.close();
        return lost?.(new ClusterluckError('CONNECTION_CLOSED', `PeerJS server dropped ${show(id)}: ${JSON.stringify(message.payload)}`));
      }
      if (typeof message.src !== 'string') return;
      if (message.type === 'CANDIDATE') receive(message.src, message.payload);
      else if (message.type === 'EXPIRE' || message.type === 'LEAVE') unreachable?.(message.src);
    });
    socket.addEventListener('error', () => undefined);
    socket.addEventListener('close', () => {
      if (heartbeat !== undefined) t.clock.cancelTimer(heartbeat);
      if (state === 'opening') reject(new ClusterluckError('CONNECTION_REFUSED', `PeerJS server closed before ${show(id)} was claimed`));
      const wasOpen = state === 'open';
      state = 'closed';
      resolveClosed();
      if (wasOpen) lost?.(new ClusterluckError('CONNECTION_CLOSED', `PeerJS server connection of ${show(id)} closed`));
    });
  });
}
