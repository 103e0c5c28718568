/**
 * Named-instance search in video on the shared DreamBooth photos. Every subject is registered for one user from
 * its first photos; its other photos become shots of a few seconds each (slow zoom or pan, cut to the next,
 * subjects interleaved) in a few videos; the videos are indexed and every concept's moments are compared with
 * where its shots are.
 * Prints moment mAP at temporal IoU 0.5 and 0.75 (ActivityNet AP per concept, mean over concepts), frame-level
 * mAP, and indexing speed as a multiple of real time.
 * Usage: npm run eval:video [-- --videos 3 --fps 2 --side 512 --seed 1 --detector]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultVideoOptions } from '../concepts/video/video-options.js';
import type { VideoService } from '../concepts/video/videos.js';
import { seeded } from '../concepts/random.js';
import { cpuSeconds } from './lib/cpu.js';
import { defaultDataDir, loadSubjects } from './lib/dreambooth.js';
import { makeVideo, type Motion, type Shot } from './lib/make-video.js';
import { averagePrecision, mean } from './lib/metrics.js';
import { segmentAP, type Segment } from './lib/moment-metrics.js';
import { openScriptRuntime } from './lib/runtime.js';

const { values: args } = parseArgs({
  options: {
    train: { type: 'string', default: '3' },
    videos: { type: 'string', default: '3' },
    fps: { type: 'string', default: String(defaultVideoOptions.fps) },
    seed: { type: 'string', default: '1' },
    detector: { type: 'boolean', default: defaultVideoOptions.detector },
    side: { type: 'string', default: String(defaultVideoOptions.index.maxSide) },
    data: { type: 'string', default: defaultDataDir },
  },
});

const FORMAT = { width: 640, height: 480, fps: 25 };
const MOTIONS: Motion[] = ['zoom-in', 'zoom-out', 'pan-left', 'pan-right', 'still'];

interface EvalShot extends Shot {
  subject: string;
}

/**
 * Every query photo once, dealt into `n` videos, each ordered so that no two neighbouring shots show the same subject.
 */
function plan(subjects: ReturnType<typeof loadSubjects>, n: number, rnd: () => number): EvalShot[][] {
  const photos = subjects.flatMap((s) => s.query.map((photo) => ({ subject: s.name, photo })));
  const shuffled = photos
    .map((p) => ({ p, key: rnd() }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.p);
  return Array.from({ length: n }, (_, v) => {
    const pool = shuffled.filter((_, i) => i % n === v);
    const shots: EvalShot[] = [];
    while (pool.length > 0) {
      // Among subjects other than the last, one with the most photos left: no subject is left over to repeat at the
      // end.
      const left = (subject: string) => pool.filter((p) => p.subject === subject).length;
      const allowed = pool.filter((p) => p.subject !== shots.at(-1)?.subject);
      const most = Math.max(...allowed.map((p) => left(p.subject)));
      const from = allowed.length > 0 ? allowed.filter((p) => left(p.subject) === most) : pool;
      const pick = from[Math.floor(rnd() * from.length)];
      pool.splice(pool.indexOf(pick), 1);
      shots.push({
        ...pick,
        seconds: 3 + Math.round(rnd() * 30) / 10,
        motion: MOTIONS[Math.floor(rnd() * MOTIONS.length)],
      });
    }
    return shots;
  });
}

/** Where each shot lies in its video, in seconds: whole output frames, as ffmpeg writes them. */
function truthOf(shots: EvalShot[], video: string): (Segment & { subject: string })[] {
  let frame = 0;
  return shots.map((s) => {
    const frames = Math.max(1, Math.round(s.seconds * FORMAT.fps));
    const segment = { video, subject: s.subject, start: frame / FORMAT.fps, end: (frame + frames) / FORMAT.fps };
    frame += frames;
    return segment;
  });
}

async function waitReady(videos: VideoService, scope: { tenant: string; user: string }, id: string): Promise<void> {
  for (;;) {
    const v = await videos.get(scope, id);
    if (v.status === 'ready') return;
    if (v.status === 'failed') throw new Error(`video ${id} failed: ${v.error}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const subjects = loadSubjects(args.data!, Number(args.train));
  const rnd = seeded(Number(args.seed));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nomen-eval-video-'));
  const fps = Number(args.fps);
  const runtime = await openScriptRuntime(path.join(dir, 'data'), {
    videos: {
      ...defaultVideoOptions,
      detector: args.detector!,
      index: { ...defaultVideoOptions.index, maxSide: Number(args.side) },
    },
  });
  const scope = { tenant: 'eval', user: 'eval-user' };
  try {
    const ids = new Map<string, string>();
    for (const s of subjects) {
      const c = await runtime.service.register(scope, {
        name: s.name,
        category: s.category,
        images: s.train.map((f) => ({ bytes: readFileSync(f) })),
      });
      ids.set(s.name, c.id);
    }
    await runtime.service.refined();

    const videos = plan(subjects, Number(args.videos), rnd);
    const truth: (Segment & { subject: string })[] = [];
    const indexed: { id: string; name: string; durationS: number; seconds: number; cpu: number; frames: number }[] = [];
    for (const [v, shots] of videos.entries()) {
      const name = `video-${v}`;
      const file = path.join(dir, `${name}.mp4`);
      await makeVideo(shots, file, FORMAT);
      truth.push(...truthOf(shots, name));
      const started = performance.now();
      const cpuStart = cpuSeconds();
      const added = await runtime.videos.add(scope, file, fps);
      await waitReady(runtime.videos, scope, added.id);
      const seconds = (performance.now() - started) / 1000;
      const cpu = cpuSeconds() - cpuStart;
      const ready = await runtime.videos.get(scope, added.id);
      indexed.push({ id: added.id, name, durationS: ready.durationS, seconds, cpu, frames: ready.frames });
      console.log(
        `${name}: ${shots.length} shots, ${ready.durationS.toFixed(1)} s, ${ready.frames} frames, indexed in ` +
          `${seconds.toFixed(1)} s (${(ready.durationS / seconds).toFixed(1)}x real time)`,
      );
    }

    const ap5: number[] = [];
    const ap75: number[] = [];
    const frameAP: number[] = [];
    for (const s of subjects) {
      const predicted: (Segment & { score: number })[] = [];
      const frames: { score: number; positive: boolean }[] = [];
      for (const v of indexed) {
        for (const m of await runtime.videos.moments(scope, v.id, ids.get(s.name)!))
          predicted.push({ video: v.name, ...m });
        const own = truth.filter((t) => t.video === v.name && t.subject === s.name);
        for (const f of (await runtime.videos.frameScores(scope, v.id, ids.get(s.name)!)).frames)
          frames.push({ score: f.score, positive: own.some((t) => f.t >= t.start && f.t < t.end) });
      }
      const own = truth.filter((t) => t.subject === s.name);
      const [a5, a75] = [segmentAP(predicted, own, 0.5), segmentAP(predicted, own, 0.75)];
      ap5.push(a5);
      ap75.push(a75);
      frameAP.push(averagePrecision(frames));
      const shown = predicted.sort((a, b) => b.score - a.score).slice(0, own.length + 2);
      console.log(
        `  ${s.name.padEnd(20)} AP@0.5 ${a5.toFixed(2)} AP@0.75 ${a75.toFixed(2)}  truth ` +
          `${own.map((t) => `${t.video.slice(-1)}:${t.start.toFixed(1)}-${t.end.toFixed(1)}`).join(' ')}  found ` +
          shown
            .map((p) => `${p.video.slice(-1)}:${p.start.toFixed(1)}-${p.end.toFixed(1)}@${p.score.toFixed(2)}`)
            .join(' '),
      );
    }

    const duration = indexed.reduce((s, v) => s + v.durationS, 0);
    const seconds = indexed.reduce((s, v) => s + v.seconds, 0);
    const cpu = indexed.reduce((s, v) => s + v.cpu, 0);
    const f = (x: number) => x.toFixed(3);
    console.log(
      `\nnomen video eval: ${subjects.length} subjects registered from ${args.train} photos each; ${truth.length} ` +
        `shots of their other photos in ${indexed.length} videos (${FORMAT.width}x${FORMAT.height}, ${FORMAT.fps} ` +
        `fps, ${duration.toFixed(0)} s)`,
    );
    console.log(
      `indexing at ${fps} fps + scene changes, frames ${args.side} px, detector boxes ` +
        `${args.detector ? 'on' : 'off'}, encoder ${runtime.models.encoder.name}, ${os.availableParallelism()} CPUs, ` +
        `load average ${os.loadavg()[0].toFixed(1)}`,
    );
    console.log(`  moment mAP@0.5 ${f(mean(ap5))}  mAP@0.75 ${f(mean(ap75))}  frame-level mAP ${f(mean(frameAP))}`);
    console.log(
      `  indexing ${(duration / seconds).toFixed(1)}x real time (${seconds.toFixed(1)} s for ` +
        `${duration.toFixed(0)} s of video, ${indexed.reduce((s, v) => s + v.frames, 0)} frames); ` +
        `CPU ${((cpu / duration) * 1000).toFixed(0)} ms per second of video, ffmpeg included`,
    );
  } finally {
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
