/** The refinement scheduler: one job at a time, after a pause in registrations, cut short by settled() or close(). */
import { describe, expect, it } from 'vitest';
import type { JobRef } from '../concepts/job-queue.js';
import { Refinements } from '../concepts/learning/refinements.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const job = (id: string): JobRef => ({ tenant: 't', user: 'u', id });

describe('Refinements', () => {
  it('runs a job only once registrations have paused for the quiet time', async () => {
    const started: [string, number][] = [];
    const t0 = performance.now();
    let scheduler!: Refinements;
    scheduler = new Refinements(
      async (j) => {
        await scheduler.pause();
        started.push([j.id, performance.now() - t0]);
      },
      { quietMs: 200 },
    );
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
      { quietMs: 60_000, attempts: 1, onError: (err, j) => errors.push(`${j.id}: ${(err as Error).message}`) },
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
    scheduler = new Refinements(
      async (j) => {
        await scheduler.pause();
        if (!scheduler.closed) ran.push(j.id);
      },
      { quietMs: 60_000 },
    );
    await scheduler.registration(async () => undefined);
    scheduler.add(job('a'));
    scheduler.add(job('b'));
    const waits = Promise.all([scheduler.whenDone(job('a')), scheduler.whenDone(job('b'))]);
    await scheduler.close();
    await waits;
    // A registration that ends after the close queues nothing that a wait would hang on.
    scheduler.add(job('late'));
    await scheduler.settled();
    await scheduler.whenDone(job('late'));
    expect(ran).toEqual([]);
  }, 5_000);

  it('runs a failed job again after a while, up to its attempts', async () => {
    const runs = new Map<string, number>();
    const errors: string[] = [];
    const scheduler = new Refinements(
      async (j) => {
        const n = (runs.get(j.id) ?? 0) + 1;
        runs.set(j.id, n);
        if (j.id === 'never' || n === 1) throw new Error(`run ${n}`);
      },
      { quietMs: 0, retryMs: 50, attempts: 3, onError: (err, j) => errors.push(`${j.id} ${(err as Error).message}`) },
    );
    scheduler.add(job('once'));
    scheduler.add(job('never'));
    for (const deadline = Date.now() + 5_000; (runs.get('never') ?? 0) < 3 && Date.now() < deadline; ) await sleep(20);
    await sleep(200);
    await scheduler.settled();
    expect(Object.fromEntries(runs)).toEqual({ once: 2, never: 3 });
    expect(errors.sort()).toEqual(['never run 1', 'never run 2', 'never run 3', 'once run 1']);
    await scheduler.close();
  });
});
