export * from './node-id.js';
