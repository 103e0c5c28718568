/**
 * Starts `npm start`'s entry as a child process on a free loopback port, for benchmarks and load runs that measure the
 * real server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

const repoRoot = path.resolve(import.meta.dirname, '../..');

/**
 * The V8 flags that `npm start`, `npm run worker` and the image run node with (package.json config.nodeFlags; README,
 * stack notes: memory).
 */
export function nodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    config: { nodeFlags: string };
  };
  return pkg.config.nodeFlags.split(' ');
}

/** The bundle `npm run build` makes of a process's entry: what `npm start` and `npm run worker` run. */
export function builtEntry(name: 'server' | 'worker'): string {
  const file = path.join(repoRoot, 'dist/services', `${name}.js`);
  if (!existsSync(file))
    throw new Error(`${file} is missing: run npm run build (npm start, npm test, npm run bench and npm run load do)`);
  return file;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Peak resident memory of the server so far (VmHWM), in MB. */
  peakRssMb(): number;
  /** CPU time the server has used so far, all its threads, in ms. */
  cpuMs(): number;
  stop(): Promise<void>;
}

export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeFlags(), builtEntry('server')], {
    cwd: repoRoot,
    // As `npm start` runs it: its malloc settings (README, stack notes: memory).
    env: {
      MALLOC_ARENA_MAX: '2',
      MALLOC_MMAP_THRESHOLD_: '131072',
      ...process.env,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('server did not become ready in 120 s');
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    child,
    peakRssMb() {
      const line = readFileSync(`/proc/${child.pid}/status`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('VmHWM:'));
      return Number(line?.match(/\d+/)?.[0] ?? NaN) / 1024;
    },
    cpuMs() {
      // Fields 14 and 15 of /proc/PID/stat (after the parenthesised name): user and system time in clock ticks (100/s
      // on Linux).
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    stop() {
      return new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}
