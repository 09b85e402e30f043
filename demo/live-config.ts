// What the page's live mode and the demo server agree on: the cluster's cookie, the Node member's
// id (the seed every tab joins through), the semaphores on show and the gossip timings, and where
// the PeerJS server is (in the URL, or asked of the demo server at `/live.json`).
import type { GossipRingOptions } from '../lib/index.js';

/** The cluster's shared secret. A demo on 127.0.0.1 (or a LAN the user chose) needs no real one. */
export const liveCookie = 'clusterluck-live-demo';

/** The Node member's id: every tab joins through it. */
export const liveSeedId = 'node';

/** The semaphores the demo shows, with their limits: the Node member creates them at start. */
export const liveSemaphores: readonly { readonly id: string; readonly n: number }[] = [
  { id: 'lock', n: 1 },
  { id: 'pool', n: 2 },
];

/** Lease ms of an acquire from the page, renewed while held: a tab closed while holding frees its slot this long after. */
export const liveLeaseMs = 6000;

/**
 * The DSM options of every member (tabs and the Node member): no lease longer than the demo's, so
 * the lock-delay a semaphore waits out when its owner tab vanishes without handing it off is
 * (6000 + 2000)·(1+ρ)², about 8 s, instead of the library's 60 s and more.
 */
export const liveDsm = { leaseMsMax: liveLeaseMs } as const;

/**
 * Gossip timings shorter than the library's defaults: a closed tab leaves the other tabs' views in
 * a few seconds instead of the ten of `webrtcAutoRemoveAfterMsDefault`, which is what a demo is for.
 */
export const liveGossip: GossipRingOptions = { intervalMs: 200, probeIntervalMs: 400, suspicionMult: 2, autoRemoveAfterMs: 1500 };

/** Where the page finds the PeerJS server and the cluster. */
export interface LiveConfig {
  /** PeerJS server host; the page's own host when the server did not say. */
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly seed: string;
}

/** What the demo server answers at `/live.json` (the host is the page's own: it works on a LAN too). */
export interface LiveServerInfo {
  readonly port: number;
  readonly path: string;
  readonly seed: string;
}

/** A `/live.json` answer checked, or undefined when it is not one. */
export function parseServerInfo(v: unknown): LiveServerInfo | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const { port, path, seed } = o;
  if (!Number.isInteger(port) || typeof path !== 'string' || typeof seed !== 'string' || seed === '') return undefined;
  return { port: port as number, path, seed };
}

/** `host:port` from the URL's `peer` parameter (the tests' way in, and a link to another server), or undefined. */
export function peerFromSearch(search: string): { host: string; port: number } | undefined {
  const m = /^(.+):(\d{1,5})$/.exec(new URLSearchParams(search).get('peer') ?? '');
  return m === null ? undefined : { host: m[1] as string, port: Number(m[2]) };
}
