/**
 * Which model calls may wait. Work started inside `bulk()` (registrations, video indexing) runs its model
 * calls on the bulk lane (a thread of low OS priority, see ort.ts) where a model has one, and gives its turn
 * on a shared model thread to calls of interactive requests: a burst of uploads does not slow recognition.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const context = new AsyncLocalStorage<'bulk'>();

export function bulk<T>(work: () => Promise<T>): Promise<T> {
  return context.run('bulk', work);
}

export function isBulk(): boolean {
  return context.getStore() === 'bulk';
}
