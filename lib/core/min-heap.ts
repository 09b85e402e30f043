/** A binary min-heap on `at`: the deadlines of leases and waiters. Entries that went stale are skipped by the caller when they surface. */
export class MinHeap<T extends { readonly at: number }> {
  #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** The entry with the least `at`, if any. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const heap = this.#items;
    let i = heap.push(item) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((heap[p] as T).at <= item.at) break;
      heap[i] = heap[p] as T;
      i = p;
    }
    heap[i] = item;
  }

  /** Removes the entry with the least `at`. */
  pop(): void {
    const heap = this.#items;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && (heap[r] as T).at < (heap[l] as T).at ? r : l;
      if ((heap[c] as T).at >= last.at) break;
      heap[i] = heap[c] as T;
      i = c;
    }
    heap[i] = last;
  }

  /** Keeps only the entries `live` says are live. */
  rebuild(live: Iterable<T>): void {
    this.#items = [];
    for (const item of live) this.push(item);
  }

  clear(): void {
    this.#items = [];
  }
}
