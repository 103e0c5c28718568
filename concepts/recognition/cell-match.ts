/**
 * Dense matching of the scanner's feature map: an image cut into a grid of cells, each cell's vector pooled from the
 * map, and two images compared cell by cell. Print and logos sit in different places on a milk and its sibling;
 * pooling the whole map averages that away, matching cells keeps it (docs/open-world.md, "Dense matching").
 */
import type { DecodedImage, LinearAlgebra, Matrix, PixelBox, RegionScanner } from '../../models/types.js';
import { concatRows } from '../matrix.js';

/** How an image is cut into cells: `n` by `n`, the outer `edge` rings left out, seen at `side` px. */
export interface CellGrid {
  n: number;
  edge: number;
  side: number;
}

/** The cells of a `width` x `height` image, row by row, without the `edge` outer rings. */
function cellBoxes(width: number, height: number, { n, edge }: CellGrid): PixelBox[] {
  const boxes: PixelBox[] = [];
  for (let i = edge; i < n - edge; i++)
    for (let j = edge; j < n - edge; j++)
      boxes.push({ x: (j * width) / n, y: (i * height) / n, w: width / n, h: height / n });
  return boxes;
}

/** One L2-normalised row per cell of the whole image. */
export function cellVectors(image: DecodedImage, scanner: RegionScanner, grid: CellGrid): Promise<Matrix> {
  return scanner.scan(image, cellBoxes(image.width, image.height, grid), grid.side);
}

/**
 * A query and a reference compared cell by cell (chamfer similarities, in [-1, 1]): `explained`, each query cell's
 * best cosine among the reference's cells, averaged over the query; `found`, each reference cell's best among the
 * query's, averaged over the reference. A region that shares only the reference's colours may be explained by it;
 * the subject itself also has the reference's cells found in it.
 */
export interface CellMatch {
  explained: number;
  found: number;
}

/** How the `query` cells match each of `references`: one matrix product for all of them. */
export async function cellMatches(query: Matrix, references: Matrix[], algebra: LinearAlgebra): Promise<CellMatch[]> {
  const { data, rows, cols } = await algebra.mulTransposed(query, concatRows(references));
  let from = 0;
  return references.map((reference) => {
    const to = from + reference.rows;
    let explained = 0;
    const bestPerCell = new Float32Array(reference.rows).fill(-Infinity);
    for (let r = 0; r < rows; r++) {
      let best = -Infinity;
      for (let k = from; k < to; k++) {
        const v = data[r * cols + k];
        best = Math.max(best, v);
        bestPerCell[k - from] = Math.max(bestPerCell[k - from], v);
      }
      explained += best;
    }
    from = to;
    return { explained: explained / rows, found: bestPerCell.reduce((sum, v) => sum + v, 0) / reference.rows };
  });
}
