/** Scores, thresholds and box fractions in answers carry 4 decimals: a pixel of a 10,000 px photo. */
export const round4 = (v: number) => Math.round(v * 1e4) / 1e4;
