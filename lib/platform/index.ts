export * from './console-logger.js';
export * from './crypto-random.js';
export * from './system-clock.js';
export * from './idb-storage.browser.js';
