/**
 * Real video files made from still photos with ffmpeg, for tests, the video eval and the benchmark: each photo
 * held for a while with an optional slow zoom or pan (zoompan), cut straight to the next.
 */
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Motion = 'still' | 'zoom-in' | 'zoom-out' | 'pan-left' | 'pan-right';

export interface Shot {
  photo: string;
  seconds: number;
  motion?: Motion;
}

export interface VideoFormat {
  width: number;
  height: number;
  fps: number;
  /** libx264 preset; the container follows the file extension (.mp4, .mkv, .mov; .webm uses VP8). */
  preset?: string;
}

/** zoompan expressions: zoom z, top-left x/y of the window, over `frames` output frames (`on` counts them). */
function motionFilter(motion: Motion, frames: number): string {
  const p = `(on/${Math.max(1, frames - 1)})`;
  const centre = "x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'";
  switch (motion) {
    case 'still':
      return `z=1:${centre}`;
    case 'zoom-in':
      return `z='1+0.3*${p}':${centre}`;
    case 'zoom-out':
      return `z='1.3-0.3*${p}':${centre}`;
    case 'pan-left':
      return `z=1.25:x='(iw-iw/zoom)*(1-${p})':y='ih/2-(ih/zoom/2)'`;
    case 'pan-right':
      return `z=1.25:x='(iw-iw/zoom)*${p}':y='ih/2-(ih/zoom/2)'`;
  }
}

/** Writes the shots, one after another, as a video at `out`. */
export async function makeVideo(shots: Shot[], out: string, format: VideoFormat): Promise<void> {
  const { width: w, height: h, fps } = format;
  const inputs = shots.flatMap((s) => ['-i', s.photo]);
  // Twice the output size before zoompan: it moves in whole pixels, which jitters at the output size.
  const chains = shots.map((s, i) => {
    const frames = Math.max(1, Math.round(s.seconds * fps));
    const zoompan = `zoompan=${motionFilter(s.motion ?? 'still', frames)}:d=${frames}:s=${w}x${h}:fps=${fps}`;
    const cover = `scale=${2 * w}:${2 * h}:force_original_aspect_ratio=increase,crop=${2 * w}:${2 * h}`;
    return `[${i}:v]${cover},${zoompan},setsar=1[v${i}]`;
  });
  const labels = shots.map((_, i) => `[v${i}]`).join('');
  const graph = `${chains.join(';')};${labels}concat=n=${shots.length}:v=1:a=0,format=yuv420p[out]`;
  const codec = out.endsWith('.webm')
    ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '1M']
    : ['-c:v', 'libx264', '-preset', format.preset ?? 'veryfast'];
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    ...inputs,
    '-filter_complex',
    graph,
    '-map',
    '[out]',
    ...codec,
    '-threads',
    '2',
    out,
  ];
  await run('ffmpeg', args, { maxBuffer: 1 << 20 });
}

/**
 * Overwrites the payload of the largest packet in the middle third of the video, past its first bytes: the
 * container stays intact (it probes and demuxes cleanly) but that frame no longer decodes.
 */
export async function corruptMiddleFrame(path: string): Promise<void> {
  const { stdout } = await run(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pos,size', '-of', 'json', path],
    { maxBuffer: 16 << 20 },
  );
  const packets = (JSON.parse(stdout) as { packets: { pos: string; size: string }[] }).packets.map((p) => ({
    pos: Number(p.pos),
    size: Number(p.size),
  }));
  const middle = packets.slice(Math.floor(packets.length / 3), Math.ceil((2 * packets.length) / 3));
  const target = middle.reduce((a, b) => (b.size > a.size ? b : a));
  const skip = 60;
  let s = 0x2545f491;
  const garbage = Buffer.alloc(Math.max(0, target.size - skip - 20), 0).map(() => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s & 0xff;
  });
  const file = await open(path, 'r+');
  try {
    await file.write(garbage, 0, garbage.length, target.pos + skip);
  } finally {
    await file.close();
  }
}
