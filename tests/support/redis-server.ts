/** A throwaway Redis for tests: Debian's redis-server (installed by .ci/run) on a free loopback port, nothing saved. */
import { spawn } from 'node:child_process';
import { freePort } from '../../scripts/lib/server-process.js';

export interface RedisTestServer {
  url: string;
  close(): Promise<void>;
}

export async function startRedisServer(): Promise<RedisTestServer> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.once('error', (e) =>
      reject(new Error(`redis-server: ${e.message} (apt-get install redis-server; .ci/run does)`)),
    );
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) resolve();
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
