/** Pieces of a Hugging Face tokenizer.json that the tiny test models' tokenizers share. */

/** GPT-2/CLIP byte-to-unicode table: printable stand-ins for the 256 byte values. */
export function byteAlphabet(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const chars: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) chars.push(String.fromCharCode(keep(b) ? b : 256 + extra++));
  return chars;
}

/** An `added_tokens` entry: a special token of the vocabulary, matched whole. */
export function specialToken(vocab: Record<string, number>, content: string, normalized: boolean) {
  return { id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized, special: true };
}
