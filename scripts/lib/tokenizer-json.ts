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
function specialToken(vocab: Record<string, number>, content: string, normalized: boolean) {
  return { id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized, special: true };
}

/** The vocabulary of `tokens` (ids in order) and the head of a tokenizer.json that adds `specials` to it. */
export function tokenizerHead(tokens: string[], specials: string[], normalized: boolean) {
  const vocab: Record<string, number> = Object.fromEntries(tokens.map((t, i) => [t, i]));
  const head = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s) => specialToken(vocab, s, normalized)),
  };
  return { vocab, head };
}
