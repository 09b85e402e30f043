// The simulated network for suites that wait in real time (the transport compliance suite): a driver for its virtual clock, and the suite's factory.
import { expect } from 'vitest';
import type { Transport } from '../../lib/env/transport.js';
import { VirtualClock } from '../../sim/clock/virtual-clock.js';
import { SimNetwork } from '../../sim/network/sim-network.js';
import { seededRandom } from '../../sim/world/seeded-random.js';
import type { TransportFactory } from '../transport-compliance.js';

/** Moves a virtual clock in 1 ms steps between real macrotasks, for the suite's real-time waits. */
export function drive(clock: VirtualClock): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      if (running) await clock.advance(1);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

/**
 * The compliance suite's endpoints on a fresh simulated network per test, each made by `wrap` (the
 * network's own transport, or what a simulated process puts around it); teardown checks that
 * nothing was left open and no timer left set.
 */
export function simNetworkFactory(seed: string, wrap: (t: Transport) => Transport = (t) => t): TransportFactory {
  let clock: VirtualClock;
  let network: SimNetwork;
  let driver: { stop(): Promise<void> };
  return {
    async setup() {
      clock = new VirtualClock();
      network = new SimNetwork({ clock, random: seededRandom(seed) });
      driver = drive(clock);
      return { transports: [wrap(network.transport()), wrap(network.transport())], addressFor: (t) => `node-${t}` };
    },
    async teardown() {
      await driver.stop();
      await clock.runUntilIdle();
      expect(network.connectionCount()).toBe(0);
      expect(clock.pending()).toBe(0);
    },
  };
}
