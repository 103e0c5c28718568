/** The refinement scheduler: one job at a time, after a pause in registrations, cut short by settled() or close(). */
import { describe, expect, it } from 'vitest';
import type { JobRef } from '../concepts/job-queue.js';
import { Refinements } from '../concepts/refinements.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const job = (id: string): JobRef => ({ tenant: 't', user: 'u', id });

describe('Refinements', () => {
  it('runs a job only once registrations have paused for the quiet time', async () => {
    const started: [string, number][] = [];
    const t0 = performance.now();
    let scheduler!: Refinements;
    scheduler = new Refinements(async (j) => {
      await scheduler.pause();
      started.push([j.id, performance.now() - t0]);
    }, 200);
    let release!: () => void;
    const registering = scheduler.registration(() => new Promise<void>((resolve) => (release = resolve)));
    scheduler.add(job('a'));
    await sleep(300);
    expect(started).toEqual([]);
    release();
    await registering;
    const ended = performance.now() - t0;
    await scheduler.whenDone(job('a'));
    expect(started.map(([id]) => id)).toEqual(['a']);
    expect(started[0][1]).toBeGreaterThanOrEqual(ended + 190);
    await scheduler.close();
  });

  it('runs one job at a time, skips the pause while settled() waits, and reports failures', async () => {
    const errors: string[] = [];
    let running = 0;
    let most = 0;
    let scheduler!: Refinements;
    scheduler = new Refinements(
      async (j) => {
        await scheduler.pause();
        running++;
        most = Math.max(most, running);
        await sleep(20);
        running--;
        if (j.id === 'bad') throw new Error('no photos');
      },
      60_000,
      (err, j) => errors.push(`${j.id}: ${(err as Error).message}`),
    );
    await scheduler.registration(async () => undefined);
    for (const id of ['a', 'bad', 'c']) scheduler.add(job(id));
    expect(scheduler.waiting).toBe(2);
    const t = performance.now();
    await scheduler.settled();
    expect(performance.now() - t).toBeLessThan(5_000);
    expect(most).toBe(1);
    expect(errors).toEqual(['bad: no photos']);
    await scheduler.close();
  });

  it('closes without starting what waits, and ends every wait on it', async () => {
    const ran: string[] = [];
    let scheduler!: Refinements;
    scheduler = new Refinements(async (j) => {
      await scheduler.pause();
      if (!scheduler.closed) ran.push(j.id);
    }, 60_000);
    await scheduler.registration(async () => undefined);
    scheduler.add(job('a'));
    scheduler.add(job('b'));
    const waits = Promise.all([scheduler.whenDone(job('a')), scheduler.whenDone(job('b'))]);
    await scheduler.close();
    await waits;
    expect(ran).toEqual([]);
  });
});
