export * from './memory-network.js';
export * from './webrtc/transport.js';
export * from './webrtc/signal-memory.js';
export * from './webrtc/signal-peerjs.js';
