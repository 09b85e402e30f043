export * from './admin-commands.js';
export * from './admin-server.js';
export * from './cluster-node.js';
export * from './cluster-signaller.js';
export * from './metrics.js';
export * from './room.js';
