/** Which stored regions a correction's box means (closestRegions): by each region's box or its extent. */
import { describe, expect, it } from 'vitest';
import { closestRegions } from '../concepts/library/corrections.js';
import type { StoredRegion } from '../concepts/recognition/stored-regions.js';
import type { Box } from '../concepts/types.js';

const region = (box: Box, extent?: Box): StoredRegion => ({ box, extent, vector: new Float32Array(4) });

describe('closestRegions', () => {
  const whole = region([0, 0, 1, 1], [0.2, 0.2, 0.3, 0.4]);
  const window = region([0, 0, 0.75, 0.75], [0.2, 0.2, 0.3, 0.4]);
  const detected = region([0.15, 0.15, 0.4, 0.5], [0.2, 0.2, 0.3, 0.4]);
  const corner = region([0.25, 0.25, 0.75, 0.75]);

  it('takes every region whose extent is the box an answer showed, whatever their own boxes', () => {
    expect(closestRegions([whole, window, detected, corner], [0.2, 0.2, 0.3, 0.4])).toEqual([whole, window, detected]);
  });

  it("takes the region whose own box a drawn box frames, and a region's box where it has no extent", () => {
    expect(closestRegions([whole, window, corner], [0, 0, 0.74, 0.76])).toEqual([window]);
    expect(closestRegions([whole, window, corner], [0.3, 0.3, 0.7, 0.7])).toEqual([corner]);
  });
});
