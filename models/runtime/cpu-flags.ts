/** The CPU's feature flags, where the system tells them: what int8 kernels a model runs on depends on them. */
import { readFileSync } from 'node:fs';

/** The flags of the first CPU in /proc/cpuinfo (Linux, x86), or in its text `info`; undefined where there are none. */
export function cpuFlags(info?: string): string[] | undefined {
  try {
    return /flags\s*:\s*(.*)/.exec(info ?? readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(' ');
  } catch {
    return undefined;
  }
}

/**
 * Whether ONNX Runtime's int8 kernels have VNNI here: AVX-VNNI, or AVX-512 VNNI beside the AVX-512 it needs (as its
 * kernel selection asks); false where the flags are unknown.
 */
export function hasVnni(flags: string[] | undefined): boolean {
  const has = (flag: string) => flags?.includes(flag) ?? false;
  return has('avx_vnni') || (has('avx512_vnni') && has('avx512bw') && has('avx512vl'));
}
