/** The in-process locks: one user's writes in turn, and a bounded number of uploads at once. */
import { describe, expect, it } from 'vitest';
import { KeyedLock, Slots } from '../concepts/locks.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Slots', () => {
  it('runs at most its size at once, the rest in the order they came, and frees a slot on failure', async () => {
    const slots = new Slots(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const job = (i: number) =>
      slots.run(async () => {
        running++;
        most = Math.max(most, running);
        await tick();
        order.push(i);
        running--;
        if (i === 1) throw new Error('failed upload');
        return i;
      });
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map(job));
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    await expect(slots.run(async () => 'after')).resolves.toBe('after');
  });
});

describe('KeyedLock', () => {
  it('runs one key at a time and different keys together, counting the waiting', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    let open!: () => void;
    const a1 = lock.run('a', () => new Promise<void>((resolve) => (open = resolve)).then(() => void order.push('a1')));
    const a2 = lock.run('a', async () => void order.push('a2'));
    const b = lock.run('b', async () => void order.push('b'));
    await b;
    expect(lock.waiting).toBe(1);
    open();
    await Promise.all([a1, a2]);
    expect(order).toEqual(['b', 'a1', 'a2']);
    expect(lock.waiting).toBe(0);
  });
});
