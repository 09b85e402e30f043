// The browser-safe entry: everything but TCP, files and the CLI (see `clusterluck/node`).
export * from './constants.js';
export * from './env/index.js';
export * from './core/index.js';
export * from './kernel/index.js';
export * from './gossip/index.js';
export * from './dsm/index.js';
export * from './table/index.js';
export * from './transports/index.js';
export * from './cluster/index.js';
export * from './platform/index.js';
export * from './webrtc-cluster.js';
export * from './browser-node.js';
