/** Model calls timed for metrics, wrapped around the adapters where the runtime opens them (the domain stays unaware). */
import type { ServiceModels } from '../concepts/service.js';
import type { VisionLanguageModel } from '../models/types.js';
import type { ModelTimer } from './metrics.js';

/**
 * `target` with each of `calls` (promises) and `streams` (async generators, timed to their last piece) timed
 * under `model`; every other member passes through untouched.
 */
function timed<T extends object>(target: T, model: string, calls: readonly string[], timer: ModelTimer, streams: readonly string[] = []): T {
  return new Proxy(target, {
    get(t, property) {
      const value: unknown = Reflect.get(t, property, t);
      if (typeof value !== 'function') return value;
      // Bound to the adapter itself: class private fields do not resolve through a proxy.
      const bound = value.bind(t);
      if (streams.includes(String(property))) {
        return async function* (...args: unknown[]) {
          const done = timer(model, String(property));
          try {
            yield* bound(...args);
          } finally {
            done();
          }
        };
      }
      if (!calls.includes(String(property))) return bound;
      return async (...args: unknown[]) => {
        const done = timer(model, String(property));
        try {
          return await bound(...args);
        } finally {
          done();
        }
      };
    },
  });
}

export function timedModels(models: ServiceModels, timer: ModelTimer): ServiceModels {
  return {
    ...models,
    encoder: timed(models.encoder, models.encoder.name, ['embed', 'embedText'], timer),
    detector: models.detector && timed(models.detector, models.detector.name, ['detect'], timer),
    scanner: models.scanner && timed(models.scanner, `${models.encoder.name}-scanner`, ['scan'], timer),
  };
}

export function timedVlm(vlm: VisionLanguageModel, timer: ModelTimer): VisionLanguageModel {
  return timed(vlm, vlm.name, ['chat'], timer, ['stream']);
}
