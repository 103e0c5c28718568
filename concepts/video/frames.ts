/**
 * Video frames from an ffmpeg child process: sampled at a steady rate plus at every scene change, scaled
 * down, and piped to Node as raw RGB. No image files and no buffering beyond a frame: the pipe's back-pressure
 * holds ffmpeg while a frame is being embedded, so memory stays flat however long the video is.
 *
 * ffmpeg reports each frame's time and size through the `showinfo` filter on stderr; frames are paired with
 * those lines in order. Decoding is strict (`-xerror`): a corrupt frame ends the run with the decoder's
 * complaint instead of being concealed.
 */
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import type { DecodedImage } from '../../models/types.js';

export interface FrameOptions {
  /** Frames per second sampled at a steady rate. */
  fps: number;
  /** Long side frames are scaled down to (never up). */
  maxSide: number;
  /** ffmpeg's scene score (0-1) above which a frame is taken out of rate. */
  sceneThreshold: number;
  /** Seconds from the start to begin at (resuming a job); times stay relative to the video's start. */
  startS?: number;
  signal?: AbortSignal;
}

export interface VideoFrame {
  /** Seconds from the start of the video. */
  t: number;
  image: DecodedImage;
}

/** ffmpeg failed to decode the video: the message is its own complaint. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

/**
 * Scene-change frames closer than this to the previous frame are skipped: a flickering video costs at most 30
 * frames a second. Any longer gap would drop cuts that fall just after a frame taken at the steady rate.
 */
const MIN_GAP_S = 1 / 30;
/** Lower scheduling priority for ffmpeg, so that requests served beside indexing keep their CPU. */
const NICENESS = 10;
const SHOWINFO = /\[info\] n:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(-?[\d.e+-]+).*\bs:(\d+)x(\d+)/;
const COMPLAINT = /\[(error|fatal|panic)\]\s*(.*)$/;

function ffmpegArgs(path: string, o: FrameOptions): string[] {
  // The first frame of each 1/fps slot of time (slots counted with a little slack for timestamps like 0.2999),
  // and any frame whose scene score says a cut.
  const slot = (t: string) => `floor(${t}*${o.fps}+0.001)`;
  const newSlot = `gte(${slot('t')}-${slot('prev_selected_t')}\\,1)`;
  const sceneCut = `gt(scene\\,${o.sceneThreshold})*gte(t-prev_selected_t\\,${MIN_GAP_S.toFixed(4)})`;
  const select = `select='isnan(prev_selected_t)+${newSlot}+${sceneCut}'`;
  const scale = `scale=w='min(${o.maxSide}\\,iw)':h='min(${o.maxSide}\\,ih)':force_original_aspect_ratio=decrease`;
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'level+info',
    '-xerror',
    ...(o.startS ? ['-ss', o.startS.toFixed(3)] : []),
    // Deblocking is a sixth of H.264 decoding; its effect does not survive scaling frames down to crops.
    '-skip_loop_filter',
    'all',
    '-i',
    path,
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    '-vf',
    `${select},${scale},showinfo`,
    '-fps_mode',
    'passthrough',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
}

/** Frames of the video at `path`, in time order. Throws DecodeError when ffmpeg fails; stopping early kills ffmpeg. */
export async function* readFrames(path: string, options: FrameOptions): AsyncGenerator<VideoFrame> {
  options.signal?.throwIfAborted();
  const child = spawn('ffmpeg', ffmpegArgs(path, options), { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  try {
    if (child.pid) setPriority(child.pid, NICENESS);
  } catch {
    // Not permitted here: ffmpeg runs at normal priority.
  }
  const kill = () => child.kill('SIGKILL');
  options.signal?.addEventListener('abort', kill, { once: true });

  // Frame headers from stderr, waited for by the stdout side when its bytes arrive first.
  const headers: { t: number; width: number; height: number }[] = [];
  const complaints: string[] = [];
  let stderrDone = false;
  let wake: (() => void) | undefined;
  const lines = createInterface({ input: child.stderr });
  lines.on('line', (line) => {
    const info = SHOWINFO.exec(line);
    if (info)
      headers.push({
        t: (options.startS ?? 0) + Math.max(0, Number(info[1])),
        width: Number(info[2]),
        height: Number(info[3]),
      });
    else {
      const complaint = COMPLAINT.exec(line);
      if (complaint && complaints.length < 5) complaints.push(complaint[2].replaceAll(path, 'the video'));
    }
    wake?.();
  });
  lines.once('close', () => {
    stderrDone = true;
    wake?.();
  });
  const nextHeader = async () => {
    while (headers.length === 0 && !stderrDone) await new Promise<void>((resolve) => (wake = resolve));
    return headers.shift();
  };

  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let header: Awaited<ReturnType<typeof nextHeader>>;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (pendingBytes > 0) {
        header ??= await nextHeader();
        if (!header) throw new DecodeError('ffmpeg wrote a frame it did not announce');
        const size = header.width * header.height * 3;
        if (pendingBytes < size) break;
        const all = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
        // A copy, so that the frame does not pin the pipe's chunk and the rest can be released.
        const data = new Uint8Array(all.subarray(0, size));
        pending = pendingBytes > size ? [all.subarray(size)] : [];
        pendingBytes -= size;
        const frame: VideoFrame = { t: header.t, image: { data, width: header.width, height: header.height } };
        header = undefined;
        yield frame;
      }
    }
    const { code, error } = await exited;
    options.signal?.throwIfAborted();
    if (error) throw new Error(`ffmpeg could not run: ${error.message} (Debian package ffmpeg)`);
    if (code !== 0)
      throw new DecodeError(`decoding failed: ${complaints.join('; ') || `ffmpeg exited with code ${code}`}`);
    if (pendingBytes > 0) throw new DecodeError('decoding failed: the last frame was cut short');
  } finally {
    options.signal?.removeEventListener('abort', kill);
    if (child.exitCode === null) kill();
    lines.close();
  }
}
