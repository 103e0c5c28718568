/** Close calls between look-alikes, settled by the region seen at twice the detail (real MobileNetV2 scanner). */
import path from 'node:path';
import sharp from 'sharp';
import { expect, it } from 'vitest';
import { settleCloseCalls } from '../concepts/recognition/close-calls.js';
import { cropImage } from '../models/image/crop-image.js';
import { decodeSharp, dreamboothDir, useMobileNet } from './support/mobilenet.js';

const mobileNet = useMobileNet();

it('looks at the region at the side asked for: a concept loses to a rival scoring above it there', async () => {
  const encoder = mobileNet();
  const image = await decodeSharp(sharp(path.join(dreamboothDir, 'can/00.jpg')).resize(640));
  const region = { x: 100.4, y: 60, w: 300, h: 320 };
  const inside = cropImage({ image, box: region });
  const seen = async (side: number) =>
    (await encoder.scanner!.scan(inside, [{ x: 0, y: 0, w: inside.width, h: inside.height }], side)).data;
  // Along what the region shows at 448 px and not at 224 px: a head nudged that way wins at 448 and loses at 224.
  const [at448, at224] = [await seen(448), await seen(224)];
  const towards448 = at448.map((v, k) => v - at224[k]);
  const [base] = await encoder.embed([{ image: cropImage({ image, box: { x: 0, y: 0, w: 200, h: 200 } }) }]);
  const row = (nudge: number) => base.map((v, k) => v + nudge * towards448[k]);
  const weights = { data: Float32Array.from([...row(0), ...row(0.5), ...row(-0.5)]), rows: 3, cols: base.length };
  const bias = new Float32Array(3);
  const calls = [
    { concept: 0, region, rivals: [1] },
    { concept: 1, region, rivals: [0, 2] },
    { concept: 2, region, rivals: [0] },
  ];
  const lost = async (side: number) =>
    [...(await settleCloseCalls(image, calls, weights, bias, encoder.scanner!, side))].sort();
  expect(await lost(448)).toEqual([0, 2]);
  expect(await lost(224)).toEqual([1]);
});
