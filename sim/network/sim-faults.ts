// The fault state of the simulated network, per directed link: link configs, partitions (held
// directions), isolation and clogs. The pipes consult it each time a frame is due.
import type { Address } from '../../lib/env/transport.js';
import { resolveLink, type LinkConfig, type ResolvedLink } from './sim-link.js';

/** A nested map keyed by (from, to): no separator can make two pairs collide. */
class DirectedMap<V> {
  readonly #byFrom = new Map<Address, Map<Address, V>>();

  get(from: Address, to: Address): V | undefined {
    return this.#byFrom.get(from)?.get(to);
  }

  set(from: Address, to: Address, value: V): void {
    let inner = this.#byFrom.get(from);
    if (inner === undefined) this.#byFrom.set(from, (inner = new Map()));
    inner.set(to, value);
  }

  delete(from: Address, to: Address): void {
    this.#byFrom.get(from)?.delete(to);
  }

  clear(): void {
    this.#byFrom.clear();
  }

  /** Every entry, in insertion order. */
  *entries(): IterableIterator<[Address, Address, V]> {
    for (const [from, inner] of this.#byFrom) for (const [to, value] of inner) yield [from, to, value];
  }
}

/** Who can reach whom, how fast, and how unreliably. */
export class FaultTable {
  #default: ResolvedLink;
  readonly #overrides = new DirectedMap<LinkConfig>();
  /** Resolved configs of links looked up since the last change. */
  #resolved = new DirectedMap<ResolvedLink>();
  readonly #blocked = new DirectedMap<true>();
  readonly #isolated = new Set<Address>();
  readonly #clogUntil = new Map<Address, number>();

  constructor(defaultLink: ResolvedLink) {
    this.#default = defaultLink;
  }

  /** The link every direction without an override follows. */
  get defaultLink(): ResolvedLink {
    return this.#default;
  }

  /** The config frames from `from` to `to` are sent with now. */
  link(from: Address, to: Address): ResolvedLink {
    const cached = this.#resolved.get(from, to);
    if (cached !== undefined) return cached;
    const override = this.#overrides.get(from, to);
    const link = override === undefined ? this.#default : resolveLink(this.#default, override);
    this.#resolved.set(from, to, link);
    return link;
  }

  /** Replaces the default link; per-link overrides keep what they set and take the rest from it. */
  setDefault(config: LinkConfig, base: ResolvedLink): void {
    const next = resolveLink(base, config, 'defaultLink');
    for (const [from, to, override] of this.#overrides.entries()) resolveLink(next, override, `link ${from}>${to}`);
    this.#default = next;
    this.#resolved = new DirectedMap();
  }

  /** Overrides the link `from` → `to` (merged over the default); checked before anything changes. */
  setLink(from: Address, to: Address, config: LinkConfig): void {
    const merged: LinkConfig = { ...(this.#overrides.get(from, to) ?? {}), ...config };
    resolveLink(this.#default, merged, `link ${from}>${to}`);
    this.#overrides.set(from, to, merged);
    this.#resolved = new DirectedMap();
  }

  /** Drops the override of `from` → `to`: it follows the default again. */
  resetLink(from: Address, to: Address): void {
    this.#overrides.delete(from, to);
    this.#resolved = new DirectedMap();
  }

  /** Holds every frame from `from` to `to` until healed. */
  block(from: Address, to: Address): void {
    this.#blocked.set(from, to, true);
  }

  /** Holds every frame to or from `address` until healed. */
  isolate(address: Address): void {
    this.#isolated.add(address);
  }

  /** Ends every partition and isolation. */
  heal(): void {
    this.#blocked.clear();
    this.#isolated.clear();
  }

  /** True while frames from `from` to `to` are held. */
  blocked(from: Address, to: Address): boolean {
    if (this.#blocked.get(from, to) === true) return true;
    // An isolated machine still reaches itself (loopback).
    return from !== to && (this.#isolated.has(from) || this.#isolated.has(to));
  }

  /** Delays everything to or from `address` until virtual time `untilMs` (never shortens a clog). */
  clog(address: Address, untilMs: number): void {
    this.#clogUntil.set(address, Math.max(untilMs, this.#clogUntil.get(address) ?? -Infinity));
  }

  /** When traffic between `from` and `to` may move again: a time after `nowMs` while either is clogged, else `nowMs`. */
  clearAt(from: Address, to: Address, nowMs: number): number {
    return Math.max(nowMs, this.#clogUntil.get(from) ?? -Infinity, this.#clogUntil.get(to) ?? -Infinity);
  }
}
