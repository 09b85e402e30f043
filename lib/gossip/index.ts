export * from './failure-detector.js';
export * from './gossip-codec.js';
export * from './gossip-options.js';
export * from './gossip-ring.js';
export * from './view-codec.js';
