/** The server's life around the API: what it answers while opening, and its periodic compaction. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startingApp } from '../services/api/starting.js';
import { scheduleCompaction } from '../services/compaction.js';
import { Metrics } from '../services/metrics.js';

describe('while models and storage open', () => {
  const app = startingApp(new Metrics());

  it('is alive but not ready, and the API answers 503 model_unavailable with Retry-After', async () => {
    expect((await app.request('/healthz')).status).toBe(200);
    const ready = await app.request('/readyz');
    expect(ready.status).toBe(503);
    expect((await ready.json()).ok).toBe(false);
    for (const [method, path] of [
      ['GET', '/v1/users/u/concepts'],
      ['POST', '/v1/users/u/recognize'],
    ]) {
      const r = await app.request(path, { method });
      expect(r.status).toBe(503);
      expect(r.headers.get('Retry-After')).toBe('5');
      expect((await r.json()).error.code).toBe('model_unavailable');
    }
    expect(await (await app.request('/metrics')).text()).toMatch(/^nomen_process_cpu_seconds_total /m);
  });
});

describe('compaction', () => {
  const log = pino({ level: 'silent' });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('runs on its interval, one run at a time, survives a failure, and stop waits for a run in progress', async () => {
    let runs = 0;
    let running = 0;
    let overlapped = false;
    let finished = 0;
    const store = {
      async compact() {
        runs++;
        overlapped ||= running > 0;
        running++;
        await sleep(60);
        running--;
        finished++;
        if (runs === 1) throw new Error('first run fails');
      },
    };
    const schedule = scheduleCompaction(store, 0.02, log);
    await sleep(250);
    await schedule.stop();
    const after = runs;
    expect(after).toBeGreaterThanOrEqual(2);
    expect(overlapped).toBe(false);
    expect(finished).toBe(runs);
    await sleep(100);
    expect(runs).toBe(after);
  });

  it('is off at interval 0', async () => {
    let runs = 0;
    const schedule = scheduleCompaction({ compact: async () => void runs++ }, 0, log);
    await sleep(50);
    await schedule.stop();
    expect(runs).toBe(0);
  });
});
