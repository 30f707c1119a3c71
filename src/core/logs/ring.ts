// Fixed-capacity ring buffer with stable ids: the n-th item ever appended has id n, so views
// and filter indexes can refer to items by id and notice when they were evicted.
export class RingBuffer<T> {
  private items: (T | undefined)[];
  private head = 0; // slot of the oldest item
  private count = 0;
  private nextId = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`ring buffer capacity must be a positive integer, got ${capacity}`);
    this.items = new Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Id of the oldest item still held (== endId when empty). */
  get firstId(): number {
    return this.nextId - this.count;
  }

  /** Id the next appended item will get. */
  get endId(): number {
    return this.nextId;
  }

  /** O(1). Returns the id given to the item; the oldest item is dropped when full. */
  push(item: T): number {
    const slot = (this.head + this.count) % this.capacity;
    this.items[slot] = item;
    if (this.count < this.capacity) this.count++;
    else this.head = (this.head + 1) % this.capacity;
    return this.nextId++;
  }

  /** The item with this id, or undefined if evicted / not yet appended. */
  get(id: number): T | undefined {
    const off = id - this.firstId;
    if (off < 0 || off >= this.count) return undefined;
    return this.items[(this.head + off) % this.capacity];
  }

  has(id: number): boolean {
    return id >= this.firstId && id < this.nextId;
  }

  clear(): void {
    this.items = new Array(this.capacity);
    this.head = 0;
    this.count = 0;
  }

  *entries(): IterableIterator<[number, T]> {
    const first = this.firstId;
    for (let i = 0; i < this.count; i++) yield [first + i, this.items[(this.head + i) % this.capacity] as T];
  }
}
