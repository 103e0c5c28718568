/**
 * What a VLM is told about the user's concepts, the way training-free personalisation does it (RAP, RePIC):
 * a system instruction to use the names; for each present concept its reference crop, name, category,
 * description and place in the photo; then the photo and the task. No concept present: an ordinary request.
 */
import type { ChatMessage, ChatPart } from '../../models/types.js';
import type { Box } from '../types.js';

/** A present concept as a request shows it. */
export interface ConceptCue {
  name: string;
  category: string;
  description: string;
  /** Where it was recognised, in fractions of its photo. */
  box: Box;
  /** The concept's reference crop as a data URL, when one is stored. */
  crop?: string;
  /** Which photo it is in (1-based), when the request holds several. */
  photo?: number;
}

export const jpegDataUrl = (jpeg: Uint8Array): string =>
  `data:image/jpeg;base64,${Buffer.from(jpeg).toString('base64')}`;

export type Task = { kind: 'caption'; style: 'short' | 'detailed' } | { kind: 'ask'; question: string };

const NAMED_INSTRUCTION =
  'You describe photos for the person who took them. They have named some subjects of their life (pets, people, ' +
  'things). ' +
  'When one of those subjects appears in the photo, call it by its name (say "Biscuit is asleep on the sofa", not "a ' +
  'dog is asleep on the sofa"). ' +
  'Do not mention named subjects that are not in the photo, and do not invent names for anything else.';

const PLAIN_INSTRUCTION = 'You describe photos accurately and concisely.';

/** Long enough for the task, short enough that a runaway answer cannot hold the model for minutes. */
export function maxTokensFor(task: Task): number {
  return task.kind === 'caption' && task.style === 'short' ? 100 : 400;
}

/** "at the top left", "on the right", "in the centre" or "filling most of the photo", from the box's centre. */
export function placeOf([x, y, w, h]: Box): string {
  if (w * h >= 0.6) return 'filling most of the photo';
  const cx = x + w / 2;
  const cy = y + h / 2;
  const row = cy < 1 / 3 ? 'top' : cy > 2 / 3 ? 'bottom' : '';
  const column = cx < 1 / 3 ? 'left' : cx > 2 / 3 ? 'right' : '';
  if (row) return `at the ${row}${column && ` ${column}`}`;
  return column ? `on the ${column}` : 'in the centre';
}

/** "Biscuit", "Biscuit and Rex", "Biscuit, Rex and Tom". */
function listNames(cues: ConceptCue[]): string {
  const names = cues.map((c) => c.name);
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

function nameClause(cues: ConceptCue[]): string {
  return `Whenever you mention ${listNames(cues)}, use ${cues.length > 1 ? 'their names' : 'the name'}.`;
}

/**
 * Each concept's crop, then what it is and where: the block both the photo requests and the chat proxy put before the
 * photo.
 */
function introduce(cues: ConceptCue[]): ChatPart[] {
  const parts: ChatPart[] = [
    { type: 'text', text: `The named subjects in the photo${cues.some((c) => c.photo) ? 's' : ''}:` },
  ];
  for (const c of cues) {
    if (c.crop) parts.push({ type: 'image_url', image_url: { url: c.crop } });
    const lines = [
      `Name: ${c.name}`,
      c.category && `Category: ${c.category}`,
      c.description && `Description: ${c.description}`,
      `Where: ${c.photo ? `in photo ${c.photo}, ` : ''}${placeOf(c.box)}`,
    ];
    parts.push({ type: 'text', text: lines.filter(Boolean).join('\n') });
  }
  return parts;
}

function taskText(task: Task): string {
  if (task.kind === 'ask') return task.question;
  return task.style === 'short'
    ? 'Write a one-sentence caption for the photo.'
    : 'Describe the photo in detail, in three to five sentences.';
}

/** The request for a caption or an answer about one photo (a data URL), conditioned on the concepts present in it. */
export function photoRequest(photo: string, cues: ConceptCue[], task: Task): ChatMessage[] {
  const image: ChatPart = { type: 'image_url', image_url: { url: photo } };
  if (cues.length === 0) {
    return [
      { role: 'system', content: PLAIN_INSTRUCTION },
      { role: 'user', content: [image, { type: 'text', text: taskText(task) }] },
    ];
  }
  return [
    { role: 'system', content: NAMED_INSTRUCTION },
    {
      role: 'user',
      content: [
        ...introduce(cues),
        { type: 'text', text: 'The photo:' },
        image,
        { type: 'text', text: `${taskText(task)}\n${nameClause(cues)}` },
      ],
    },
  ];
}

/**
 * A chat (the drop-in proxy's) with the instruction added to its system message and the concepts before the last user
 * message's content.
 */
export function conditionChat(messages: ChatMessage[], cues: ConceptCue[]): ChatMessage[] {
  if (cues.length === 0) return messages;
  const out = [...messages];
  const system = out[0]?.role === 'system' ? out[0] : undefined;
  if (!system) out.unshift({ role: 'system', content: NAMED_INSTRUCTION });
  else
    out[0] = {
      role: 'system',
      content:
        typeof system.content === 'string'
          ? `${NAMED_INSTRUCTION}\n\n${system.content}`
          : [{ type: 'text', text: NAMED_INSTRUCTION }, ...system.content],
    };
  const last = out.map((m) => m.role).lastIndexOf('user');
  const content = out[last].content;
  const original: ChatPart[] = typeof content === 'string' ? [{ type: 'text', text: content }] : content;
  out[last] = { role: 'user', content: [...introduce(cues), { type: 'text', text: nameClause(cues) }, ...original] };
  return out;
}

/**
 * The repair request: the first answer back to the model, asking for the names it left out and nothing else changed.
 */
export function stricterRequest(request: ChatMessage[], answer: string, missing: ConceptCue[]): ChatMessage[] {
  const renames = missing.map(
    (c) => `the ${c.category || 'subject'} ${c.photo ? `in photo ${c.photo} ` : ''}${placeOf(c.box)} is "${c.name}"`,
  );
  const text =
    `Your answer does not call ${listNames(missing)} by name. Rewrite it so that it does: ${renames.join('; ')}. ` +
    'Keep everything else exactly as it is, and answer with the rewritten text only.';
  return [...request, { role: 'assistant', content: answer }, { role: 'user', content: text }];
}
