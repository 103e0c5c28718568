/**
 * Which user each version of the photo table was written for, shared by the processes of one dataset: a process
 * that finds versions it did not make drops the kept scores of those users only (photo-scores.ts), not of all.
 */
export interface WriteLog {
  /** `user` is photo-scores.ts's key of a scope. */
  record(version: number, user: string): Promise<void>;
  /** The user of each version; undefined where none was recorded (yet). */
  users(versions: number[]): Promise<(string | undefined)[]>;
}
