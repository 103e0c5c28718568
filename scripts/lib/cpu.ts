/**
 * CPU time of this process and of the children it has waited for (ffmpeg), for figures that machine load does not skew.
 */
import { readFileSync } from 'node:fs';
import { cpuFlags, hasVnni } from '../../models/runtime/cpu-flags.js';

/** Seconds of CPU used so far; children from /proc/self/stat (Linux), counted once they have exited. */
export function cpuSeconds(): number {
  const own = process.cpuUsage();
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  // cutime and cstime are fields 16 and 17 of stat, in clock ticks (100 per second on Linux).
  const children = (Number(fields[13]) + Number(fields[14])) / 100;
  return (own.user + own.system) / 1e6 + children;
}

/** The CPU's model name and its vector extensions, which set its speed and its int8 kernels: every figure names it. */
export function cpuModel(): string {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(info)?.[1]?.trim() ?? 'unknown CPU';
  const flags = cpuFlags(info) ?? [];
  return (
    `${model} (${flags.includes('avx512f') ? 'AVX-512' : flags.includes('avx2') ? 'AVX2' : 'no AVX2'}, ` +
    `${hasVnni(flags) ? 'VNNI' : 'no VNNI'})`
  );
}
