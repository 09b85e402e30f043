// The WebRTC transport in Node (node-datachannel, loopback only): the shared compliance suite,
// then what only WebRTC has. Run it in a network namespace with nothing but `lo` to prove that.
import { describe, expect, it } from 'vitest';
import { systemClock } from '../lib/platform/system-clock.js';
import { webrtcTransport } from '../lib/transports/webrtc/transport.js';
import { MemorySignalHub } from '../lib/transports/webrtc/signal-memory.js';
import { nodeWrtc } from './webrtc-node.js';
import { webrtcSuites } from './webrtc-behaviour.js';

webrtcSuites('webrtc transport (node-datachannel)', 'node', nodeWrtc);

describe('webrtc transport without WebRTC', () => {
  it('without an RTCPeerConnection on globalThis or in options, it is UNSUPPORTED_PLATFORM', () => {
    expect(() => webrtcTransport({ signaller: new MemorySignalHub().signaller(), clock: systemClock() }))
      .toThrow(expect.objectContaining({ code: 'UNSUPPORTED_PLATFORM' }));
  });
});
