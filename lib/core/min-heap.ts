/**
 * A binary min-heap in the order `before` gives: the deadlines of leases and waiters, and the
 * simulator's timers. Entries that went stale stay until they surface; the caller skips them.
 */
export class MinHeap<T> {
  readonly #before: (a: T, b: T) => boolean;
  #items: T[] = [];

  /** `before(a, b)`: whether `a` comes out first (a strict order: false for equals). */
  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  get size(): number {
    return this.#items.length;
  }

  /** The first entry, if any. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const heap = this.#items;
    let i = heap.push(item) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#before(item, heap[p] as T)) break;
      heap[i] = heap[p] as T;
      i = p;
    }
    heap[i] = item;
  }

  /** Removes the first entry. */
  pop(): void {
    const heap = this.#items;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && this.#before(heap[r] as T, heap[l] as T) ? r : l;
      if (!this.#before(heap[c] as T, last)) break;
      heap[i] = heap[c] as T;
      i = c;
    }
    heap[i] = last;
  }

  /** Keeps only `live`, in any order. */
  rebuild(live: Iterable<T>): void {
    this.#items = [];
    for (const item of live) this.push(item);
  }

  /** Every entry, in heap order (not sorted). */
  entries(): readonly T[] {
    return this.#items;
  }

  clear(): void {
    this.#items = [];
  }
}

/** `before` for entries with a deadline `at`. */
export const byAt = (a: { readonly at: number }, b: { readonly at: number }): boolean => a.at < b.at;
