// The live mode's scene (demo/live-scene.ts): what a tab learns at each poll becomes the ring's
// members and the lanes' bars. Pure, so tested here without a browser.
import { describe, expect, it } from 'vitest';
import type { SemaphoreState } from '../lib/index.js';
import { LiveScene, shortId } from '../demo/live-scene.js';

const holder = (name: string, token: number, remainingMs = 5000) => ({ holder: name, lease: 'abc123', token, permits: 1, remainingMs });
const state = (holders: SemaphoreState['holders'], waiters: { holder: string; node: string }[] = []): SemaphoreState => ({
  id: 'lock', n: 1, holders, waiters: waiters.map((w, position) => ({ ...w, lease: 'def456', position, permits: 1, remainingMs: null })),
});

describe('the live scene', () => {
  it('a holder seen at several polls is one bar, extended; gone, it ends; a slot handed on between polls keeps its lane', () => {
    const s = new LiveScene();
    s.holders(0, 'lock', state([holder('a', 7)], [{ holder: 'b', node: 'b' }]));
    s.holders(250, 'lock', state([holder('a', 7, 4900)], [{ holder: 'b', node: 'b' }]));
    expect(s.bars.get('lock')).toHaveLength(1);
    expect(s.bars.get('lock')?.[0]).toMatchObject({ holder: 'a', token: 7, from: 0, until: 5150, endedAt: undefined, lane: 0 });
    expect([...(s.waiting.get('lock')?.keys() ?? [])]).toEqual(['b']);
    // a released and b was granted within one poll interval: b takes lane 0, not a lane beyond n.
    s.holders(500, 'lock', state([holder('b', 8)]));
    expect(s.bars.get('lock')?.map((b) => [b.holder, b.lane, b.endedAt])).toEqual([['a', 0, 500], ['b', 0, undefined]]);
    expect(s.heldAt('lock').map((b) => b.holder)).toEqual(['b']);
    expect(s.waiting.get('lock')?.size).toBe(0);
    // Two at once (n = 2) take two lanes; a renewed lease keeps its token and its bar.
    s.holders(750, 'lock', state([holder('b', 8), holder('c', 9)]));
    expect(s.heldAt('lock').map((b) => [b.holder, b.lane])).toEqual([['b', 0], ['c', 1]]);
    s.holders(800, 'lock', state([]));
    expect(s.heldAt('lock')).toEqual([]);
  });

  it('the ring holds the view\'s members, by short id, coloured by this tab\'s failure detector; members gone from the view go', () => {
    const s = new LiveScene();
    const long = '0123456789abcdef';
    s.membership(10, long, 4, [{ id: long, status: 'alive' }, { id: 'node', status: 'suspect' }, { id: 'fedcba9876543210', status: 'down' }], new Map([['lock', 'node']]));
    expect(shortId(long)).toBe('0123');
    expect([...s.nodes.values()].map((n) => [n.host, n.seenAs, n.view])).toEqual([['0123', undefined, 4], ['node', 'suspect', undefined], ['fedc', 'down', undefined]]);
    expect(s.owners.get('lock')).toBe('node');
    s.membership(20, long, 5, [{ id: long, status: 'alive' }, { id: 'node', status: 'alive' }], new Map([['lock', long]]));
    expect([...s.nodes.keys()]).toEqual(['0123', 'node']);
    expect(s.view).toBe(5);
    expect(s.owners.get('lock')).toBe('0123');
  });
});
