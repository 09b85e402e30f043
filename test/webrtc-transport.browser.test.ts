// The WebRTC transport in Chromium, two transports in one page, with the browser's own
// RTCPeerConnection: the shared compliance suite and the WebRTC-specific tests. The
// `chromium-webrtc` project grants the media permission and loopback flag this needs.
import { describe, expect } from 'vitest';
import { systemClock } from '../lib/platform/system-clock.js';
import { webrtcTransport, type WebRtcImplementation, type WebRtcTransport, type WebRtcTransportOptions } from '../lib/transports/webrtc.js';
import { MemorySignalHub } from '../lib/transports/webrtc-signal-memory.js';
import { transportCompliance } from './transport-compliance.js';
import { webrtcBehaviour } from './webrtc-behaviour.js';

const browserWrtc: WebRtcImplementation = { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate };
let hub: MemorySignalHub;
let made: WebRtcTransport[] = [];
const make = (options: Partial<WebRtcTransportOptions> = {}): WebRtcTransport => {
  const t = webrtcTransport({ signaller: hub.signaller(), clock: systemClock(), ...options });
  made.push(t);
  return t;
};

transportCompliance('webrtc transport (Chromium)', {
  async setup() {
    hub = new MemorySignalHub();
    made = [];
    return { transports: [make(), make()], addressFor: (t) => `tab-${t}` };
  },
  async teardown() {
    await Promise.all(made.map((t) => t.close()));
    await expect.poll(() => made.map((t) => t.peerCount), { timeout: 2000 }).toEqual(made.map(() => 0));
  },
  eventTimeoutMs: 10_000,
});

describe('webrtc transport (Chromium)', () => {
  webrtcBehaviour(() => {
    hub = new MemorySignalHub();
    made = [];
    return { hub, make, wrtc: browserWrtc };
  }, async () => {
    await Promise.all(made.map((t) => t.close()));
  });
});
