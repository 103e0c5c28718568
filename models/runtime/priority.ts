/**
 * Which model calls may wait. Work started inside `bulk()` (registrations, video indexing) gives its turn
 * on a model thread to calls of interactive requests, so that a burst of uploads does not slow recognition.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const context = new AsyncLocalStorage<'bulk'>();

export function bulk<T>(work: () => Promise<T>): Promise<T> {
  return context.run('bulk', work);
}

export function isBulk(): boolean {
  return context.getStore() === 'bulk';
}
