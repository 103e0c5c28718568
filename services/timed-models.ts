/**
 * Model calls timed for metrics, wrapped around the adapters where the runtime opens them (the domain stays unaware).
 */
import type { ServiceModels } from '../concepts/service-options.js';
import type { VisionLanguageModel } from '../models/types.js';
import type { ModelTimer } from './metrics.js';

interface Timed {
  /** Methods returning promises. */
  calls?: readonly string[];
  /** Async generators, timed to their last piece. */
  streams?: readonly string[];
  /** Members answered instead of the target's own (e.g. a timed part of it). */
  members?: Record<string, unknown>;
}

/** `target` with its `calls` and `streams` timed under `model`; every other member passes through untouched. */
function timed<T extends object>(
  target: T,
  model: string,
  timer: ModelTimer,
  { calls = [], streams = [], members = {} }: Timed,
): T {
  return new Proxy(target, {
    get(t, property) {
      if (typeof property === 'string' && property in members) return members[property];
      const value: unknown = Reflect.get(t, property, t);
      if (typeof value !== 'function') return value;
      // Bound to the adapter itself: class private fields do not resolve through a proxy.
      const bound = value.bind(t);
      if (streams.includes(String(property))) {
        return async function* (...args: unknown[]) {
          const done = timer(model, String(property));
          try {
            // The stream's return value (a VLM's finish reason) passes through too.
            return yield* bound(...args);
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
  const { encoder, detector } = models;
  const scanner = encoder.scanner && timed(encoder.scanner, `${encoder.name}-scanner`, timer, { calls: ['scan'] });
  return {
    ...models,
    encoder: timed(encoder, encoder.name, timer, { calls: ['embed', 'embedText'], members: { scanner } }),
    detector: detector && timed(detector, detector.name, timer, { calls: ['detect'] }),
  };
}

export function timedVlm(vlm: VisionLanguageModel, timer: ModelTimer): VisionLanguageModel {
  return timed(vlm, vlm.name, timer, { calls: ['chat'], streams: ['stream'] });
}
