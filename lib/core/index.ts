export * from './node-id.js';
export * from './hash-ring.js';
export * from './vector-clock.js';
export * from './membership.js';
