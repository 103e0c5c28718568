/**
 * Video intake: an uploaded file is accepted only if its magic bytes name an accepted container, ffprobe finds a
 * video stream in it, and every packet of that stream can be read (a demux pass, no decoding: cheap, and it
 * catches truncated files whose header still promises the whole duration).
 */
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { DomainError } from '../errors.js';

export interface VideoInfo {
  /** ffprobe's container name, e.g. `mov,mp4,m4a,3gp,3g2,mj2` or `matroska,webm`. */
  container: string;
  codec: string;
  width: number;
  height: number;
  durationS: number;
}

const ACCEPTED = 'MP4, MOV, WebM or MKV';
/** A whole-file demux of a large upload reads it once; this bounds a pathological one. */
const PROBE_TIMEOUT_MS = 120_000;

/** What the leading bytes say: ISO media (MP4, MOV) or Matroska (MKV, WebM); null for anything else. */
export function sniffContainer(head: Uint8Array): 'iso' | 'matroska' | null {
  const ascii = (start: number, end: number) => String.fromCharCode(...head.subarray(start, end));
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3)
    return 'matroska';
  // QuickTime files may start with other top-level atoms than ftyp.
  if (head.length >= 8 && ['ftyp', 'moov', 'mdat', 'wide', 'free', 'skip'].includes(ascii(4, 8))) return 'iso';
  return null;
}

interface Probed {
  format?: { format_name?: string; duration?: string };
  streams?: { codec_name?: string; width?: number; height?: number; duration?: string; nb_read_packets?: string }[];
}

/** ffprobe's complaint without its `[demuxer @ 0x...]` prefix and without the server's path to the file. */
function firstComplaint(stderr: string, path: string): string {
  const line = stderr
    .split('\n')
    .map((l) =>
      l
        .replaceAll(path, 'the file')
        .replace(/^\[[^\]]*\]\s*/, '')
        .trim(),
    )
    .find(Boolean);
  return line ?? 'unreadable';
}

function ffprobe(path: string): Promise<{ probed?: Probed; stderr: string }> {
  const args = [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-count_packets',
    '-show_entries',
    'format=format_name,duration:stream=codec_name,width,height,duration,nb_read_packets',
    '-of',
    'json',
    path,
  ];
  return new Promise((resolve, reject) => {
    execFile('ffprobe', args, { timeout: PROBE_TIMEOUT_MS, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT')
        return reject(new Error('ffprobe is not installed (Debian package ffmpeg)'));
      if (err?.killed) return reject(new DomainError('invalid_video', 'the video could not be read in time'));
      let probed: Probed | undefined;
      try {
        probed = err ? undefined : (JSON.parse(stdout) as Probed);
      } catch {
        probed = undefined;
      }
      resolve({ probed, stderr });
    });
  });
}

/** Checks an uploaded file; throws a DomainError naming what is wrong with it. */
export async function probeVideo(path: string, maxDurationS: number): Promise<VideoInfo> {
  const file = await open(path);
  const head = new Uint8Array(16);
  const { bytesRead } = await file.read(head, 0, head.length, 0).finally(() => file.close());
  if (bytesRead === 0) throw new DomainError('invalid_video', 'the video is empty');
  if (!sniffContainer(head.subarray(0, bytesRead)))
    throw new DomainError('unsupported_media_type', `not an ${ACCEPTED} video`);

  const { probed, stderr } = await ffprobe(path);
  const stream = probed?.streams?.[0];
  if (!probed?.format || stderr.trim())
    throw new DomainError('invalid_video', `the video is corrupt or truncated: ${firstComplaint(stderr, path)}`);
  if (!stream) throw new DomainError('unsupported_media_type', 'the file holds no video stream');
  if (!/mp4|mov|matroska|webm/.test(probed.format.format_name ?? ''))
    throw new DomainError('unsupported_media_type', `not an ${ACCEPTED} video`);
  const durationS = Number(probed.format.duration ?? stream.duration);
  const packets = Number(stream.nb_read_packets);
  if (!(durationS > 0) || !(packets > 0) || !(stream.width! > 0 && stream.height! > 0)) {
    throw new DomainError('invalid_video', 'the video has no frames');
  }
  if (durationS > maxDurationS) {
    throw new DomainError('too_large', `the video lasts ${durationS.toFixed(1)} s, the limit is ${maxDurationS} s`);
  }
  return {
    container: probed.format.format_name ?? '',
    codec: stream.codec_name ?? '',
    width: stream.width!,
    height: stream.height!,
    durationS,
  };
}
