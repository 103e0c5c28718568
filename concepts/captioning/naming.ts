/**
 * Whether an answer calls the present concepts by their names, and the faithful rewrite that names one when
 * the model described it by its category ("the dog" -> "Biscuit"): safe only when no other present concept
 * shares that category, so the phrase can mean nothing else the user named.
 */

/** A letter, digit or underscore in any script: what a name may not touch on either side. */
const WORD = '[\\p{L}\\p{N}_]';
const DETERMINERS = ['the', 'a', 'an', 'this', 'that', 'one'];
/** Words that end a noun phrase rather than describe its noun: "the cat and dog" is not a dog. */
const STOP_WORDS = [
  ...DETERMINERS,
  'and',
  'or',
  'but',
  'with',
  'without',
  'of',
  'in',
  'on',
  'at',
  'by',
  'to',
  'from',
  'near',
  'next',
  'beside',
  'behind',
  'under',
  'over',
  'is',
  'are',
  'was',
  'were',
  'has',
  'have',
  'its',
  'his',
  'her',
  'their',
  'other',
  'another',
];

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The words of `s` as a pattern, any whitespace between them. */
const words = (s: string): string => s.trim().split(/\s+/).map(escapeRegExp).join('\\s+');

/** Whether `text` says `name`: case-insensitive, as whole words ("Rex" is not in "Rexford", "Biscuit's" is). */
export function mentions(text: string, name: string): boolean {
  return new RegExp(`(?<!${WORD})${words(name)}(?!${WORD})`, 'iu').test(text);
}

/** `text` with its first singular "the dog" / "a small brown dog" replaced by `name`; undefined when there is none. */
export function nameCategory(text: string, category: string, name: string): string | undefined {
  if (!category.trim()) return undefined;
  const determiner = `(?:${DETERMINERS.join('|')})`;
  const modifier = `(?!(?:${STOP_WORDS.join('|')})(?!${WORD}))[\\p{L}-]+`;
  const phrase = new RegExp(
    `(?<!${WORD})${determiner}\\s+(?:${modifier}\\s+){0,2}?${words(category)}(?!${WORD})`,
    'iu',
  );
  const match = phrase.exec(text);
  if (!match) return undefined;
  return text.slice(0, match.index) + name + text.slice(match.index + match[0].length);
}

export interface NamedConcept {
  name: string;
  category: string;
}

/**
 * Names each missing concept by rewriting its category phrase, where its category is its own among the present ones.
 */
export function nameByCategory(text: string, missing: NamedConcept[], present: NamedConcept[]): string {
  const key = (c: NamedConcept) => c.category.trim().toLowerCase();
  let out = text;
  for (const c of missing) {
    if (present.filter((p) => key(p) === key(c)).length !== 1) continue;
    out = nameCategory(out, c.category, c.name) ?? out;
  }
  return out;
}
