/** Which int8 kernels the model threads ask for: u8u8 only where the CPU has no VNNI (models/runtime/cpu-flags.ts). */
import { describe, expect, it } from 'vitest';
import { cpuFlags, hasVnni } from '../models/runtime/cpu-flags.js';

describe('hasVnni', () => {
  it('finds AVX-512 VNNI and AVX-VNNI, and none on AVX2 alone, 4VNNIW or where the flags are unknown', () => {
    expect(hasVnni(['fpu', 'avx2', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni'])).toBe(true);
    expect(hasVnni(['fpu', 'avx2', 'avx_vnni'])).toBe(true);
    expect(hasVnni(['fpu', 'avx2', 'avx512f'])).toBe(false);
    // Knights Mill: 4VNNIW, not the VNNI that the kernels use.
    expect(hasVnni(['avx2', 'avx512f', 'avx512_4vnniw'])).toBe(false);
    expect(hasVnni(undefined)).toBe(false);
  });

  it.skipIf(process.platform !== 'linux' || process.arch !== 'x64')("reads this machine's flags", () => {
    expect(cpuFlags()).toContain('sse2');
  });
});
