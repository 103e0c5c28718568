/**
 * A bounded load run against the real server (a child process on 127.0.0.1, fresh data): concurrent clients
 * mixing registrations and /recognize calls for a fixed time or request count, then a check that every
 * concept registered is there. Before it, one client alone measures /recognize as the baseline.
 * Usage: npm run load [-- --clients 8 --duration 120 --requests 20000 --baseline 20 --register-every 5]
 * Exits 1 on any error or lost concept.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultDataDir, defaultModelsDir, loadSubjects, type Subject } from './lib/dreambooth.js';
import { percentile } from './lib/metrics.js';
import { startServer } from './lib/server-process.js';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '8' },
    duration: { type: 'string', default: '120' },
    requests: { type: 'string', default: '20000' },
    baseline: { type: 'string', default: '20' },
    'register-every': { type: 'string', default: '5' },
  },
});

const KEY = 'load-key';
const SHARED_USER = 'load-shared';

type Kind = 'register' | 'recognize';
interface Sample {
  kind: Kind;
  ms: number;
  status: number;
}

const b64 = (file: string) => readFileSync(file).toString('base64');

/** One HTTP call; status 0 for a failure below HTTP. */
async function call(url: string, method: string, body?: unknown): Promise<{ status: number; json: any }> {
  try {
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json().catch(() => undefined) };
  } catch {
    return { status: 0, json: undefined };
  }
}

interface Run {
  samples: Sample[];
  seconds: number;
  registered: Map<string, Set<string>>;
}

/**
 * `clients` loops until `seconds` pass or `requests` are sent in all; every `registerEvery`-th request of a
 * client registers a new concept (in turn into its own user and into one user all clients share, so that
 * writes of one user queue), the others recognize a held-out photo.
 */
async function run(
  base: string,
  subjects: Subject[],
  clients: number,
  seconds: number,
  requests: number,
  registerEvery: number,
): Promise<Run> {
  const samples: Sample[] = [];
  const registered = new Map<string, Set<string>>();
  const deadline = performance.now() + seconds * 1000;
  let sent = 0;
  let names = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      const own = `load-${client}`;
      for (let i = 0; performance.now() < deadline && sent < requests; i++) {
        sent++;
        const subject = subjects[(client * 7 + i) % subjects.length];
        const kind: Kind = registerEvery > 0 && i % registerEvery === registerEvery - 1 ? 'register' : 'recognize';
        const t = performance.now();
        if (kind === 'register') {
          const user = (i / registerEvery) % 2 < 1 ? own : SHARED_USER;
          const r = await call(`${base}/users/${user}/concepts`, 'POST', {
            name: `${subject.name}-${names++}`,
            category: subject.category,
            images: subject.train.map((f) => ({ data: b64(f) })),
          });
          samples.push({ kind, ms: performance.now() - t, status: r.status });
          if (r.status === 201) registered.set(user, (registered.get(user) ?? new Set()).add(r.json.id));
        } else {
          const r = await call(`${base}/users/${own}/recognize`, 'POST', {
            image: { data: b64(subject.query[i % subject.query.length]) },
          });
          samples.push({ kind, ms: performance.now() - t, status: r.status });
        }
      }
    }),
  );
  return { samples, seconds: (performance.now() - started) / 1000, registered };
}

function report(label: string, { samples, seconds }: Run): void {
  console.log(
    `${label}: ${samples.length} requests in ${seconds.toFixed(1)} s = ${(samples.length / seconds).toFixed(1)} req/s`,
  );
  for (const kind of ['register', 'recognize'] as const) {
    const of = samples.filter((s) => s.kind === kind);
    if (of.length === 0) continue;
    const ms = of.map((s) => s.ms);
    const errors = of.filter((s) => s.status < 200 || s.status >= 300);
    const byStatus = [...new Set(errors.map((e) => e.status))]
      .map((s) => `${s}: ${errors.filter((e) => e.status === s).length}`)
      .join(', ');
    console.log(
      `  ${kind.padEnd(9)} ${String(of.length).padStart(6)} (${(of.length / seconds).toFixed(1)}/s)  p50 ` +
        `${percentile(ms, 50).toFixed(0)} ms  p99 ${percentile(ms, 99).toFixed(0)} ms  errors ` +
        `${errors.length}${byStatus && ` (${byStatus})`}`,
    );
  }
}

/** Two concepts for every user before the run, so that recognition has heads to score from the start. */
async function seedUsers(base: string, users: string[], subjects: Subject[]): Promise<void> {
  for (const [u, user] of users.entries()) {
    for (const subject of [subjects[u % subjects.length], subjects[(u + 1) % subjects.length]]) {
      const r = await call(`${base}/users/${user}/concepts`, 'POST', {
        name: `seed-${subject.name}`,
        category: subject.category,
        images: subject.train.map((f) => ({ data: b64(f) })),
      });
      if (r.status !== 201) throw new Error(`seeding ${user}: ${r.status} ${JSON.stringify(r.json)}`);
    }
  }
}

/** Concepts that answered 201 but are missing from their user's list. */
async function lostConcepts(base: string, registered: Map<string, Set<string>>): Promise<number> {
  let lost = 0;
  for (const [user, ids] of registered) {
    const r = await call(`${base}/users/${user}/concepts`, 'GET');
    const listed = new Set<string>((r.json?.concepts ?? []).map((c: { id: string }) => c.id));
    for (const id of ids) if (!listed.has(id)) lost++;
  }
  return lost;
}

async function main(): Promise<number> {
  const [clients, duration, requests, baseline, registerEvery] = [
    args.clients,
    args.duration,
    args.requests,
    args.baseline,
    args['register-every'],
  ].map(Number);
  const subjects = loadSubjects(defaultDataDir, 3).filter((s) => s.query.length > 0);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nomen-load-'));
  // The load measures the service, not the per-key limiter: one key sends everything here.
  const server = await startServer({
    NOMEN_DATA: dataDir,
    NOMEN_MODELS: process.env.NOMEN_MODELS ?? defaultModelsDir,
    NOMEN_API_KEYS: `${KEY}:load`,
    NOMEN_RATE_LIMIT: '0',
  });
  const base = `${server.url}/v1`;
  try {
    console.log(
      `nomen load: ${server.url}, ${os.availableParallelism()} CPUs; ${clients} clients for ${duration} s or ` +
        `${requests} requests, every ${registerEvery}th a registration`,
    );
    await seedUsers(base, [SHARED_USER, ...Array.from({ length: clients }, (_, c) => `load-${c}`)], subjects);
    await run(base, subjects, 1, 5, 10, 0); // warm-up, not reported
    const alone = await run(base, subjects, 1, baseline, requests, 0);
    report('baseline, 1 client, recognize only', alone);
    const loaded = await run(base, subjects, clients, duration, requests, registerEvery);
    report(`${clients} clients`, loaded);

    const lost = await lostConcepts(base, loaded.registered);
    const registeredCount = [...loaded.registered.values()].reduce((n, ids) => n + ids.size, 0);
    const errors =
      loaded.samples.filter((s) => s.status < 200 || s.status >= 300).length +
      alone.samples.filter((s) => s.status !== 200).length;
    const p99 = percentile(
      loaded.samples.filter((s) => s.kind === 'recognize').map((s) => s.ms),
      99,
    );
    const p50alone = percentile(
      alone.samples.map((s) => s.ms),
      50,
    );
    console.log(`concepts registered: ${registeredCount}, lost: ${lost}; errors: ${errors}`);
    console.log(`recognize p99 at ${clients} clients / p50 at 1 client = ${(p99 / p50alone).toFixed(2)} (target <= 4)`);
    console.log(`server peak RSS: ${server.peakRssMb().toFixed(0)} MB`);
    return errors === 0 && lost === 0 ? 0 : 1;
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
