/**
 * One page of a library answer, best first: photos are offered one by one and only the page is kept (sorting every
 * photo of a large library would cost more than scoring it); the cursor is the position after its last photo.
 */
import { DomainError } from '../errors.js';
import type { Box } from '../types.js';

/** A photo of the library in an answer: its id, the score it is ranked by, and where the concept is. */
export interface LibraryPhoto {
  id: string;
  score: number;
  box: Box;
}

/** Where a photo stands: by rank (its score, or its likeness to a text), then by id. */
interface Ranked {
  rank: number;
  id: string;
}

const better = (a: Ranked, b: Ranked) => a.rank > b.rank || (a.rank === b.rank && a.id < b.id);

/** Opaque position after a photo in best-first order. */
function encodeCursor(p: Ranked): string {
  return Buffer.from(JSON.stringify([p.rank, p.id])).toString('base64url');
}

function decodeCursor(cursor: string): Ranked {
  try {
    const [rank, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof rank === 'number' && typeof id === 'string') return { rank, id };
  } catch {
    // Answered below.
  }
  throw new DomainError('invalid_request', 'cursor: not a cursor this server gave');
}

export class Page {
  private readonly photos: (LibraryPhoto & Ranked)[] = [];
  private readonly after?: Ranked;
  private later = 0;

  /** `cursor`: a page's, to answer the page after it. */
  constructor(
    private readonly limit: number,
    cursor?: string,
  ) {
    if (cursor !== undefined) this.after = decodeCursor(cursor);
  }

  /** A photo ranked `rank`, kept when it belongs on this page; its box is asked for only then. */
  offer(id: string, score: number, rank: number, box: () => Box): void {
    if (this.after && !better(this.after, { rank, id })) return;
    this.later++;
    if (this.photos.length === this.limit && !better({ rank, id }, this.photos.at(-1)!)) return;
    let at = this.photos.length;
    while (at > 0 && better({ rank, id }, this.photos[at - 1])) at--;
    this.photos.splice(at, 0, { id, score, box: box(), rank });
    if (this.photos.length > this.limit) this.photos.pop();
  }

  answer(): { photos: LibraryPhoto[]; next?: string } {
    return {
      photos: this.photos.map(({ id, score, box }) => ({ id, score, box })),
      ...(this.later > this.limit && { next: encodeCursor(this.photos.at(-1)!) }),
    };
  }
}
