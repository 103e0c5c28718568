/**
 * Retries a LanceDB write that lost a commit race. Lance already rebases and retries compatible concurrent
 * commits itself; what reaches us is a conflict it gave up on, which is safe to run again because a failed
 * commit wrote nothing visible.
 */
const CONFLICT =
  /commit conflict|concurrent (transaction|writ|modification)|preempted by concurrent|too many concurrent/i;

export function isCommitConflict(err: unknown): boolean {
  return CONFLICT.test(err instanceof Error ? err.message : String(err));
}

export async function withCommitRetry<T>(write: () => Promise<T>, attempts = 8, baseDelayMs = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= attempts || !isCommitConflict(err)) throw err;
      // Jittered exponential backoff so that racing writers do not collide again in step.
      const delay = baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
