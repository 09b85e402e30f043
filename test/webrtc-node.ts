// Node's WebRTC for the tests and the bench: the shipped node-datachannel adapter, bound to loopback.
import { nodeDatachannelWrtc } from '../lib/transports/webrtc/node-datachannel.node.js';
import type { WebRtcImplementation } from '../lib/transports/webrtc/transport.js';

/** node-datachannel's RTC classes, fixed for the transport and bound to 127.0.0.1. */
export const nodeWrtc: WebRtcImplementation = nodeDatachannelWrtc({ bindAddress: '127.0.0.1' });
