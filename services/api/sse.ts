/**
 * Answers as server-sent events. The first event is awaited before the stream opens, so a failure before
 * any text (model unavailable, timeout, bad input) still answers with its status; a later failure becomes
 * an error event, since the status line has gone out.
 */
import type { Context } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import type { AppEnv } from './context.js';
import { errorAnswer } from './errors.js';

export interface EventWriter<T> {
  event(sse: SSEStreamingApi, event: T): Promise<void>;
  error(sse: SSEStreamingApi, error: { code: string; message: string }): Promise<void>;
}

export async function sseResponse<T>(
  c: Context<AppEnv>,
  events: AsyncGenerator<T, void, undefined>,
  write: EventWriter<T>,
): Promise<Response> {
  const first = await events.next();
  return streamSSE(c, async (sse) => {
    // A client that goes away stops the model too (the generator's cleanup aborts its call).
    sse.onAbort(() => void events.return(undefined));
    try {
      for (let next = first; !next.done && !sse.aborted; next = await events.next()) await write.event(sse, next.value);
    } catch (err) {
      if (sse.aborted) return;
      const known = errorAnswer(err);
      if (!known) c.var.log.error({ err }, 'stream failed');
      await write.error(
        sse,
        known ? { code: known.code, message: known.message } : { code: 'internal', message: 'internal error' },
      );
    }
  });
}
