export * from './console-logger.js';
export * from './crypto-random.js';
export * from './system-clock.js';
