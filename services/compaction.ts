/** Periodic store upkeep (orphan sweep, file compaction, removal of old versions), one run at a time. */
import type { Logger } from 'pino';
import type { ConceptStore } from '../concepts/storage/store.js';

export interface Compaction {
  /** Stops the schedule and waits for a run in progress to finish. */
  stop(): Promise<void>;
}

export function scheduleCompaction(store: Pick<ConceptStore, 'compact'>, intervalS: number, log: Logger): Compaction {
  if (intervalS <= 0) return { stop: async () => undefined };
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    const started = performance.now();
    running = store
      .compact()
      .then(
        () => log.info({ ms: Math.round(performance.now() - started) }, 'store compacted'),
        (err: unknown) => log.error({ err }, 'store compaction failed'),
      )
      .finally(() => (running = undefined));
  }, intervalS * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
