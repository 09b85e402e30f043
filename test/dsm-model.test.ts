// Model-based test: random create / post / close / destroy / read / clock advances, issued from
// random nodes of a 3-node cluster, against a small reference model. The cluster must agree with
// the model after every step; a post's fencing token must be larger than every earlier one of the
// semaphore, and a refresh must keep it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { driftMaxDefault } from '../lib/constants.js';
import type { DSMServer } from '../lib/dsm/dsm-server.js';
import type { ClusterluckError } from '../lib/env/errors.js';
import { dsmCluster, type DsmCluster } from './support/dsm-cluster.js';

/** Each semaphore's limit, last fencing token, and holders with their expiry and token. */
type Model = Map<string, { n: number; lastToken: number; holders: Map<string, { until: number; token: number }> }>;

const ids = ['a', 'b', '__proto__'];
const holders = ['h1', 'h2', 'h3'];

const command = fc.oneof(
  fc.record({ op: fc.constant('create' as const), id: fc.constantFrom(...ids), n: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ op: fc.constant('post' as const), id: fc.constantFrom(...ids), holder: fc.constantFrom(...holders), timeout: fc.constantFrom(100, 200, 1000) }),
  fc.record({ op: fc.constant('close' as const), id: fc.constantFrom(...ids), holder: fc.constantFrom(...holders) }),
  fc.record({ op: fc.constant('destroy' as const), id: fc.constantFrom(...ids) }),
  fc.record({ op: fc.constant('read' as const), id: fc.constantFrom(...ids) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.constantFrom(1, 99, 100, 101) }),
);
type Command = typeof command extends fc.Arbitrary<infer C> ? C : never;

/** The owner keeps a slot timeout·(1+ρ)² on its clock. */
const stretch = (1 + driftMaxDefault) ** 2;

/** A grant the model cannot number exactly: a fresh token above `above`, or `same` for a refresh. */
interface Grant {
  readonly above?: number;
  readonly same?: number;
}

/** What the model says a command returns: a value, a {@link Grant}, or an error code. */
function expected(model: Model, now: number, c: Command): unknown {
  for (const s of model.values()) for (const [h, l] of s.holders) if (l.until <= now) s.holders.delete(h);
  switch (c.op) {
    case 'create': {
      const s = model.get(c.id);
      if (s !== undefined) return s.n === c.n ? null : 'ALREADY_EXISTS';
      model.set(c.id, { n: c.n, lastToken: 0, holders: new Map() });
      return null;
    }
    case 'post': {
      const s = model.get(c.id);
      if (s === undefined) return 'NOT_FOUND';
      const held = s.holders.get(c.holder);
      if (held === undefined && s.holders.size >= s.n) return 'SEMAPHORE_FULL';
      s.holders.set(c.holder, { until: now + c.timeout * stretch, token: held?.token ?? NaN });
      return held === undefined ? { above: s.lastToken } : { same: held.token };
    }
    case 'close': {
      const s = model.get(c.id);
      if (s === undefined) return 'NOT_FOUND'; // as in Clusterluck
      s.holders.delete(c.holder);
      return null;
    }
    case 'destroy':
      model.delete(c.id);
      return null;
    case 'read': {
      const s = model.get(c.id);
      return s === undefined ? 'NOT_FOUND' : { n: s.n, active: s.holders.size };
    }
    case 'advance':
      return null;
  }
}

async function actual(cluster: DsmCluster, dsm: DSMServer, c: Command): Promise<unknown> {
  const run = (): Promise<unknown> => {
    switch (c.op) {
      case 'create': return dsm.create(c.id, c.n) as Promise<void>;
      case 'post': return dsm.post(c.id, c.holder, c.timeout, undefined, Infinity, 0) as Promise<number>;
      case 'close': return dsm.close(c.id, c.holder) as Promise<void>;
      case 'destroy': return dsm.destroy(c.id) as Promise<void>;
      case 'read': return dsm.read(c.id) as Promise<unknown>;
      case 'advance': return cluster.world.clock.advance(c.ms);
    }
  };
  return run().then((v) => v ?? null, (e: ClusterluckError) => e.code);
}

describe('DSMServer against a reference model', () => {
  it('property: the cluster agrees with the model after every command, from any node', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(2), command), { minLength: 1, maxLength: 40, size: 'max' }), async (steps) => {
        const cluster = await dsmCluster(3);
        try {
          const model: Model = new Map();
          for (const [node, c] of steps) {
            const want = expected(model, cluster.world.clock.now() + (c.op === 'advance' ? c.ms : 0), c);
            const got = await actual(cluster, cluster.servers[node] as DSMServer, c);
            if (c.op === 'post' && typeof want === 'object' && want !== null) {
              const g = want as Grant;
              expect({ c, got: typeof got }).toEqual({ c, got: 'number' });
              if (g.same !== undefined) expect({ c, got }).toEqual({ c, got: g.same });
              else expect({ c, got, above: g.above }).toEqual({ c, got: Math.max(got as number, (g.above as number) + 1), above: g.above });
              const s = model.get(c.id);
              const h = s?.holders.get(c.holder);
              if (s !== undefined && h !== undefined) {
                h.token = got as number;
                s.lastToken = Math.max(s.lastToken, got as number);
              }
            } else expect({ c, got }).toEqual({ c, got: want });
            // closeAsync after a refused post is a cast: let it land before the next command.
            await cluster.world.clock.advance(0);
          }
        } finally {
          await cluster.stop();
        }
      }),
      { numRuns: 60 },
    );
  });
});
