// The simulator's per-process wrapper (sim/network/process-transport.ts) over the simulated network,
// as every simulated node dials and listens: it must meet the same contract as the transports.
import { expect } from 'vitest';
import { processTransport } from '../sim/network/process-transport.js';
import { SimNetwork } from '../sim/network/sim-network.js';
import { VirtualClock } from '../sim/clock/virtual-clock.js';
import { seededRandom } from '../sim/world/seeded-random.js';
import { drive } from './support/drive-clock.js';
import { transportCompliance } from './transport-compliance.js';

let clock: VirtualClock;
let network: SimNetwork;
let driver: { stop(): Promise<void> };

transportCompliance('process transport over the sim network', {
  async setup() {
    clock = new VirtualClock();
    network = new SimNetwork({ clock, random: seededRandom('process-compliance') });
    driver = drive(clock);
    return { transports: [processTransport(network.transport()).transport, processTransport(network.transport()).transport], addressFor: (t) => `node-${t}` };
  },
  async teardown() {
    await driver.stop();
    await clock.runUntilIdle();
    expect(network.connectionCount()).toBe(0);
    expect(clock.pending()).toBe(0);
  },
});
