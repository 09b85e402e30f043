export * from './console-logger.js';
export * from './crypto-random.js';
export * from './system-clock.js';
export * from './storage/idb-storage.browser.js';
export * from './storage/memory-storage.js';
