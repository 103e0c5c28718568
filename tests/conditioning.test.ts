/** The requests the VLM gets: names, crops and places of present concepts only; an ordinary request otherwise. */
import { describe, expect, it } from 'vitest';
import {
  conditionChat,
  type ConceptCue,
  photoRequest,
  placeOf,
  stricterRequest,
} from '../concepts/captioning/conditioning.js';
import type { ChatMessage, ChatPart } from '../models/types.js';

const PHOTO = 'data:image/jpeg;base64,UEhPVE8=';
const biscuit: ConceptCue = {
  name: 'Biscuit',
  category: 'dog',
  description: 'golden fur, red collar',
  box: [0.05, 0.05, 0.2, 0.2],
  crop: 'data:image/jpeg;base64,QklTQ1VJVA==',
};
const tom: ConceptCue = { name: 'Tom', category: 'cat', description: '', box: [0.7, 0.4, 0.2, 0.2] };

const parts = (m: ChatMessage): ChatPart[] =>
  typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
const text = (ms: ChatMessage[]) =>
  ms
    .flatMap(parts)
    .flatMap((p) => (p.type === 'text' ? [p.text] : []))
    .join('\n');
const images = (ms: ChatMessage[]) =>
  ms.flatMap(parts).flatMap((p) => (p.type === 'image_url' ? [p.image_url.url] : []));

describe('placeOf', () => {
  it('names the ninth of the photo the box is centred in', () => {
    expect(placeOf([0, 0, 0.2, 0.2])).toBe('at the top left');
    expect(placeOf([0.4, 0, 0.2, 0.2])).toBe('at the top');
    expect(placeOf([0.8, 0.4, 0.2, 0.2])).toBe('on the right');
    expect(placeOf([0.4, 0.4, 0.2, 0.2])).toBe('in the centre');
    expect(placeOf([0.6, 0.8, 0.2, 0.2])).toBe('at the bottom right');
    expect(placeOf([0, 0, 0.9, 0.9])).toBe('filling most of the photo');
  });
});

describe('photoRequest', () => {
  it('without concepts: an ordinary caption request, no names', () => {
    const request = photoRequest(PHOTO, [], { kind: 'caption', style: 'short' });
    expect(images(request)).toEqual([PHOTO]);
    expect(text(request)).not.toMatch(/name/i);
    expect(text(request)).toMatch(/one-sentence caption/);
  });

  it('with concepts: each crop with its name, category, description and place, then the photo and the task', () => {
    const request = photoRequest(PHOTO, [biscuit, tom], { kind: 'caption', style: 'detailed' });
    expect(request[0].role).toBe('system');
    expect(text([request[0]])).toMatch(/call it by its name/);
    // Tom has no stored crop: only Biscuit's crop comes before the photo.
    expect(images(request)).toEqual([biscuit.crop, PHOTO]);
    const user = text([request[1]]);
    expect(user).toContain('Name: Biscuit\nCategory: dog\nDescription: golden fur, red collar\nWhere: at the top left');
    expect(user).toContain('Name: Tom\nCategory: cat\nWhere: on the right');
    expect(user.indexOf('Biscuit')).toBeLessThan(user.indexOf('Tom'));
    expect(user).toMatch(/in detail[\s\S]*Whenever you mention Biscuit and Tom, use their names\.$/);
  });

  it("puts the user's question as the task", () => {
    const request = photoRequest(PHOTO, [biscuit], { kind: 'ask', question: 'Is the dog happy?' });
    expect(text(request)).toMatch(/Is the dog happy\?\nWhenever you mention Biscuit, use the name\.$/);
  });
});

describe('conditionChat', () => {
  const chat: ChatMessage[] = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello' },
    { role: 'assistant', content: 'Hi' },
    {
      role: 'user',
      content: [
        { type: 'image_url', image_url: { url: PHOTO } },
        { type: 'text', text: 'Who is this?' },
      ],
    },
  ];

  it('adds the instruction to the system message and the concepts before the last user message', () => {
    const out = conditionChat(chat, [biscuit]);
    expect(out).toHaveLength(4);
    expect(text([out[0]])).toMatch(/call it by its name[\s\S]*\n\nBe brief\.$/);
    expect(out[1]).toEqual(chat[1]);
    expect(images([out[3]])).toEqual([biscuit.crop, PHOTO]);
    expect(text([out[3]])).toMatch(/Name: Biscuit[\s\S]*Who is this\?$/);
  });

  it('adds a system message when there is none, and changes nothing without concepts', () => {
    expect(conditionChat(chat.slice(1), [biscuit])[0].role).toBe('system');
    expect(conditionChat(chat, [])).toBe(chat);
  });
});

describe('stricterRequest', () => {
  it('sends the answer back and asks for the missing names only', () => {
    const request = photoRequest(PHOTO, [biscuit, tom], { kind: 'caption', style: 'short' });
    const retry = stricterRequest(request, 'A dog and Tom.', [biscuit]);
    expect(retry.slice(0, 2)).toEqual(request);
    expect(retry[2]).toEqual({ role: 'assistant', content: 'A dog and Tom.' });
    expect(retry[3].content).toMatch(/does not call Biscuit by name[\s\S]*the dog at the top left is "Biscuit"/);
  });
});
