export * from './constants.js';
export * from './env/index.js';
export * from './core/index.js';
export * from './transports/index.js';
