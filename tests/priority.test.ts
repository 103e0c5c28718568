/** Foreground work holds background steps back, for a bounded time. */
import { describe, expect, it } from 'vitest';
import { PriorityGate } from '../concepts/priority.js';

describe('PriorityGate', () => {
  it('lets background work through at once when nothing else runs', async () => {
    const gate = new PriorityGate();
    const t = performance.now();
    await gate.background(1000);
    expect(performance.now() - t).toBeLessThan(50);
  });

  it('holds background work until foreground work ends', async () => {
    const gate = new PriorityGate();
    const order: string[] = [];
    let finish!: () => void;
    const request = gate.foreground(() =>
      new Promise<void>((done) => (finish = done)).then(() => void order.push('request')),
    );
    const step = gate.background(10_000).then(() => order.push('step'));
    await new Promise((done) => setTimeout(done, 20));
    expect(order).toEqual([]);
    finish();
    await Promise.all([request, step]);
    expect(order).toEqual(['request', 'step']);
  });

  it('stops holding it back after the longest wait, and survives a failed request', async () => {
    const gate = new PriorityGate();
    const never = gate.foreground(() => new Promise(() => undefined));
    const t = performance.now();
    await gate.background(30);
    expect(performance.now() - t).toBeGreaterThanOrEqual(25);
    await expect(gate.foreground(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    void never;
  });
});
