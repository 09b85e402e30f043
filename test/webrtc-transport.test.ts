// The WebRTC transport in Node (node-datachannel, loopback only): the shared compliance suite,
// then what only WebRTC has. Run it in a network namespace with nothing but `lo` to prove that.
import { describe, expect, it } from 'vitest';
import type { CloseDetail, Connection } from '../lib/env/transport.js';
import { chunkTag } from '../lib/transports/webrtc/chunks.js';
import { systemClock } from '../lib/platform/system-clock.js';
import { webrtcTransport } from '../lib/transports/webrtc/transport.js';
import { MemorySignalHub } from '../lib/transports/webrtc/signal-memory.js';
import { nodeWrtc } from './webrtc-node.js';
import { webrtcSuites } from './webrtc-behaviour.js';
import { nextEvent } from './support/events.js';

webrtcSuites('webrtc transport (node-datachannel)', 'node', nodeWrtc);

describe('webrtc transport without WebRTC', () => {
  it('without an RTCPeerConnection on globalThis or in options, it is UNSUPPORTED_PLATFORM', () => {
    expect(() => webrtcTransport({ signaller: new MemorySignalHub().signaller(), clock: systemClock() }))
      .toThrow(expect.objectContaining({ code: 'UNSUPPORTED_PLATFORM' }));
  });
});

describe('webrtc transport (node-datachannel), closing', () => {
  // node-datachannel's iceConnectionState reads the native state when asked, so an ICE state event
  // handled after the remote has closed the peer connection reads 'closed' (CI saw it: "connection
  // ... failed: ICE connection closed" on a graceful close). That is the remote closing, as when
  // the channel closes, not a failure: whether it was graceful is the goodbyes' to say.
  it('an ICE state event read after the remote closed gracefully ends the connection without error', async () => {
    const hub = new MemorySignalHub();
    const held: (() => void)[] = [];
    const seen: string[] = [];
    type Pc = EventTarget & { readonly connectionState: string; readonly iceConnectionState: string; createDataChannel(label: string, init: unknown): EventTarget };
    const Base = nodeWrtc.RTCPeerConnection as new (config?: unknown) => Pc;
    // The dialer's channel holds back its close event and the remote's goodbye-ack (the remote,
    // having our ack, closes at once), and an ICE state event comes late, once the peer
    // connection has closed: the dialer learns of the remote's close from that event alone.
    const LateIce = class extends Base {
      constructor(config?: unknown) {
        super(config);
        this.addEventListener('connectionstatechange', () => {
          if (this.connectionState !== 'closed' || seen.length > 0) return;
          seen.push(this.iceConnectionState);
          this.dispatchEvent(new Event('iceconnectionstatechange'));
        });
      }

      override createDataChannel(label: string, init: unknown): EventTarget {
        const channel = super.createDataChannel(label, init);
        const add = channel.addEventListener.bind(channel);
        channel.addEventListener = (type: string, listener: unknown, options?: unknown) => {
          if (type !== 'close' && type !== 'message') return add(type, listener as EventListener, options as AddEventListenerOptions);
          return add(type, (e: Event) => {
            const data = (e as MessageEvent).data as ArrayBuffer | undefined;
            const late = type === 'close' || (data?.byteLength === 1 && new Uint8Array(data)[0] === chunkTag.goodbyeAck);
            if (late) held.push(() => (listener as EventListener)(e));
            else (listener as EventListener)(e);
          }, options as AddEventListenerOptions);
        };
        return channel;
      }
    };
    const dialer = webrtcTransport({ signaller: hub.signaller(), clock: systemClock(), wrtc: { ...nodeWrtc, RTCPeerConnection: LateIce } });
    const listening = webrtcTransport({ signaller: hub.signaller(), clock: systemClock(), wrtc: nodeWrtc });
    try {
      const listener = await listening.listen('far');
      const accepted = nextEvent<CustomEvent<Connection>>(listener, 'connection', 10_000);
      const conn = await dialer.dial('far', { signal: new AbortController().signal });
      const remote = (await accepted).detail;
      const closes = [nextEvent<CustomEvent<CloseDetail>>(conn, 'close', 10_000), nextEvent<CustomEvent<CloseDetail>>(remote, 'close', 10_000)];
      await Promise.all([conn.close(), remote.close()]);
      const [mine, theirs] = await Promise.all(closes);
      expect(seen).toEqual(['closed']);
      expect([mine?.detail.error, theirs?.detail.error]).toEqual([undefined, undefined]);
    } finally {
      for (const deliver of held) deliver();
      await Promise.all([dialer.close(), listening.close()]);
    }
  });
});
