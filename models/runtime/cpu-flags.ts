/** The CPU's feature flags, where the system tells them: what int8 kernels a model runs on depends on them. */
import { readFileSync } from 'node:fs';

/** The flags of the first CPU in /proc/cpuinfo (Linux, x86); undefined where there is none to read. */
export function cpuFlags(): string[] | undefined {
  try {
    return /flags\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(' ');
  } catch {
    return undefined;
  }
}

/** Whether int8 products have VNNI (AVX-512 VNNI or AVX-VNNI); false where the flags are unknown. */
export const hasVnni = (flags: string[] | undefined): boolean => flags?.some((f) => f.includes('vnni')) ?? false;
