/** Which image format a byte string claims to be, from its magic bytes alone. */

/** The formats nomen accepts (SPEC "Images in requests"). */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'gif' | 'tiff';

/** What the leading bytes say: an accepted format, a recognised but refused one, or nothing known. */
export type Sniffed = { format: ImageFormat } | { refused: string } | null;

const ascii = (b: Uint8Array, start: number, end: number): string => String.fromCharCode(...b.subarray(start, end));

const startsWith = (b: Uint8Array, sig: number[]): boolean => b.length >= sig.length && sig.every((v, i) => b[i] === v);

/** ISO-BMFF brands (`ftyp` box): AVIF is AV1 in HEIF; HEIC (HEVC) is not decodable by sharp's prebuilt libvips. */
function sniffFtyp(b: Uint8Array): Sniffed {
  const size = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  const end = Math.min(b.length, Math.max(16, size));
  const brands = [ascii(b, 8, 12)];
  for (let i = 16; i + 4 <= end; i += 4) brands.push(ascii(b, i, i + 4));
  if (brands.some((x) => x === 'avif' || x === 'avis')) return { format: 'avif' };
  if (brands.some((x) => ['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1'].includes(x))) {
    return { refused: 'HEIC/HEIF' };
  }
  return { refused: 'ISO media (video or unknown brand)' };
}

export function sniffFormat(b: Uint8Array): Sniffed {
  if (startsWith(b, [0xff, 0xd8, 0xff])) return { format: 'jpeg' };
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { format: 'png' };
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return { format: 'gif' };
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return { format: 'webp' };
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a])) return { format: 'tiff' };
  if (b.length >= 12 && ascii(b, 4, 8) === 'ftyp') return sniffFtyp(b);
  if (b.length >= 5 && ascii(b, 0, 5) === '%PDF-') return { refused: 'PDF' };
  return null;
}
