// The WebRTC transport in Node (node-datachannel, loopback only): the shared compliance suite,
// then what only WebRTC has. Run it in a network namespace with nothing but `lo` to prove that.
import { describe, expect, it } from 'vitest';
import { systemClock } from '../lib/platform/system-clock.js';
import { webrtcTransport, type WebRtcTransport, type WebRtcTransportOptions } from '../lib/transports/webrtc.js';
import { MemorySignalHub } from '../lib/transports/webrtc-signal-memory.js';
import { transportCompliance } from './transport-compliance.js';
import { nodeWrtc } from './webrtc-node.js';
import { webrtcBehaviour } from './webrtc-behaviour.js';

let hub: MemorySignalHub;
let made: WebRtcTransport[] = [];
const make = (options: Partial<WebRtcTransportOptions> = {}): WebRtcTransport => {
  const t = webrtcTransport({ signaller: hub.signaller(), clock: systemClock(), wrtc: nodeWrtc, ...options });
  made.push(t);
  return t;
};

transportCompliance('webrtc transport (node-datachannel)', {
  async setup() {
    hub = new MemorySignalHub();
    made = [];
    return { transports: [make(), make()], addressFor: (t) => `node-${t}` };
  },
  async teardown() {
    await Promise.all(made.map((t) => t.close()));
    await expect.poll(() => made.map((t) => t.peerCount), { timeout: 2000 }).toEqual(made.map(() => 0));
  },
  eventTimeoutMs: 10_000,
});

describe('webrtc transport (node-datachannel)', () => {
  webrtcBehaviour(() => {
    hub = new MemorySignalHub();
    made = [];
    return { hub, make, wrtc: nodeWrtc };
  }, async () => {
    await Promise.all(made.map((t) => t.close()));
  });

  it('without an RTCPeerConnection on globalThis or in options, it is UNSUPPORTED_PLATFORM', () => {
    expect(() => webrtcTransport({ signaller: new MemorySignalHub().signaller(), clock: systemClock() }))
      .toThrow(expect.objectContaining({ code: 'UNSUPPORTED_PLATFORM' }));
  });
});
