/** Finding names in answers and the faithful category rewrite. */
import { describe, expect, it } from 'vitest';
import { mentions, nameByCategory, nameCategory } from '../concepts/captioning/naming.js';

describe('mentions', () => {
  it('finds a name as whole words, whatever the case', () => {
    expect(mentions('biscuit is asleep', 'Biscuit')).toBe(true);
    expect(mentions("Biscuit's bowl is empty", 'Biscuit')).toBe(true);
    expect(mentions('Rexford sits', 'Rex')).toBe(false);
    expect(mentions('T-Rex sits', 'Rex')).toBe(true);
    expect(mentions('the bear_plushie2 sits', 'bear_plushie')).toBe(false);
    expect(mentions('Mr.  Whiskers naps', 'Mr. Whiskers')).toBe(true);
    expect(mentions('Zoë smiles', 'zoë')).toBe(true);
    expect(mentions('a (b) c', '(b)')).toBe(true);
  });
});

describe('nameCategory', () => {
  it('replaces the first singular phrase of the category, modifiers included', () => {
    expect(nameCategory('A dog sleeps on the sofa.', 'dog', 'Biscuit')).toBe('Biscuit sleeps on the sofa.');
    expect(nameCategory('There is a small brown dog on the grass.', 'dog', 'Biscuit')).toBe(
      'There is Biscuit on the grass.',
    );
    expect(nameCategory("The dog's bowl is empty.", 'dog', 'Biscuit')).toBe("Biscuit's bowl is empty.");
    expect(nameCategory('The photo shows a dog and a cat.', 'dog', 'Biscuit')).toBe(
      'The photo shows Biscuit and a cat.',
    );
    expect(nameCategory('A grey stuffed animal sits on a bed.', 'stuffed animal', 'Sloth')).toBe(
      'Sloth sits on a bed.',
    );
  });

  it('leaves plurals, other nouns and phrases that only end in the category alone', () => {
    expect(nameCategory('Two dogs play.', 'dog', 'Biscuit')).toBeUndefined();
    expect(nameCategory('A hotdog stand.', 'dog', 'Biscuit')).toBeUndefined();
    expect(nameCategory('The cat and dog play.', 'dog', 'Biscuit')).toBeUndefined();
    expect(nameCategory('A dog.', '', 'Biscuit')).toBeUndefined();
  });
});

describe('nameByCategory', () => {
  const biscuit = { name: 'Biscuit', category: 'dog' };
  const rex = { name: 'Rex', category: 'Dog' };
  const tom = { name: 'Tom', category: 'cat' };

  it('rewrites only where one present concept has that category', () => {
    expect(nameByCategory('A dog chases a cat.', [biscuit, tom], [biscuit, tom])).toBe('Biscuit chases Tom.');
    expect(nameByCategory('A dog chases a cat.', [biscuit, tom], [biscuit, rex, tom])).toBe('A dog chases Tom.');
  });
});
