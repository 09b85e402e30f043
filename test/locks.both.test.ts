// node.locks is navigator.locks for the cluster: one scenario of exclusive and shared requests,
// ifAvailable, an aborted wait, a steal and a throwing callback gives the same log on three
// cluster nodes (in Node and in Chromium) as on Chromium's own navigator.locks.
import { afterEach, describe, expect, it } from 'vitest';
import { DistributedLocks } from '../lib/dsm/locks.js';
import { dsmCluster, type DsmCluster } from './support/dsm-cluster.js';
import { expectedLockLog, lockScenario, type LockApi } from './support/lock-scenario.js';

let cluster: DsmCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Three nodes' locks, round robin per request, so requests come from different nodes. */
function spread(all: DistributedLocks[]): LockApi {
  let i = 0;
  const next = (): DistributedLocks => all[i++ % all.length] as DistributedLocks;
  return {
    request: ((name: string, a: never, b?: never) => (b === undefined ? next().request(name, a) : next().request(name, a, b))) as LockApi['request'],
    query: () => (all[0] as DistributedLocks).query(),
  };
}

describe('locks', () => {
  it('node.locks across three nodes runs the scenario with the expected log', async () => {
    cluster = await dsmCluster(3);
    const c = cluster;
    const locks = spread(c.servers.map((s) => new DistributedLocks(s)));
    let done = false;
    const settle = (): Promise<void> => new Promise((resolve) => c.world.clock.setTimer(30, resolve));
    const log = lockScenario(locks, 'scenario-', settle).finally(() => (done = true));
    // Virtual time moves on in small steps while the scenario runs.
    const drive = (async () => {
      while (!done) await c.world.clock.advance(5);
    })();
    const result = await log;
    await drive;
    expect(result).toEqual(expectedLockLog);
  });

  it.runIf(typeof navigator !== 'undefined' && navigator.locks !== undefined)('navigator.locks runs the same scenario with the same log', async () => {
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));
    const log = await lockScenario(navigator.locks as unknown as LockApi, `nav-${Math.random()}-`, settle);
    expect(log).toEqual(expectedLockLog);
  });

  it('refuses what navigator.locks refuses, with the same error names', async () => {
    cluster = await dsmCluster(1);
    const locks = new DistributedLocks(cluster.servers[0] as never);
    const names = async (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: Error) => e.name);
    const noop = (): undefined => undefined;
    expect(await names(locks.request('-reserved', noop))).toBe('NotSupportedError');
    expect(await names(locks.request('x', { steal: true, ifAvailable: true }, noop))).toBe('NotSupportedError');
    expect(await names(locks.request('x', { steal: true, mode: 'shared' }, noop))).toBe('NotSupportedError');
    expect(await names(locks.request('x', { ifAvailable: true, signal: new AbortController().signal }, noop))).toBe('NotSupportedError');
    const aborted = new AbortController();
    aborted.abort(new Error('already'));
    expect(await names(locks.request('x', { signal: aborted.signal }, noop))).toBe('Error');
  });
});
