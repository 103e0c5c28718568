/** `npm run worker`'s entry as a child process, for tests of jobs shared between processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { builtEntry, nodeFlags } from '../../scripts/lib/server-process.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');

export interface WorkerProcess {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Resolves once the worker says it takes jobs. */
export async function startWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [...nodeFlags(), builtEntry('worker')], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`worker did not start in 120 s: ${out}`)), 120_000);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('worker taking video jobs')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.removeAllListeners('exit');
  // Its log is not needed once it runs; the pipe must still be drained.
  child.stdout!.resume();
  return {
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
