export * from './actor.js';
export * from './gen-server.js';
export * from './net-kernel.js';
