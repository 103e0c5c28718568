/**
 * The console's small kit: elements, the session (API key and user, in session storage), the API client, and
 * actions that show the API's own words when they fail.
 */
import { type Box, NomenClient, NomenError } from '../typescript/client.js';

export type Attrs = Record<string, string | boolean | ((e: Event) => void)>;

/** An element with attributes (`on...` ones as listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false) el.setAttribute(k, v);
  }
  el.append(...children);
  return el;
}

export const store = sessionStorage;
export const keyInput = h('input', {
  id: 'key',
  type: 'password',
  autocomplete: 'off',
  value: store.getItem('nomen.key') ?? '',
});
export const userInput = h('input', { id: 'user', required: true, value: store.getItem('nomen.user') ?? '' });
export const alert = h('p', { id: 'error', role: 'alert', class: 'error', hidden: true });

export const client = () =>
  new NomenClient({ url: location.origin, key: keyInput.value.trim() || undefined, retries: 2 });
export const user = () => userInput.value.trim();
export const fmt = (n: number) => n.toFixed(2);

/** Runs an action (of a button, disabled meanwhile), showing the API's own words when it fails. */
export async function act(action: () => Promise<void>, button?: HTMLButtonElement): Promise<void> {
  alert.hidden = true;
  if (button) button.disabled = true;
  try {
    await action();
  } catch (e) {
    alert.textContent = e instanceof NomenError ? `${e.message} (${e.code})` : (e as Error).message;
    alert.hidden = false;
  } finally {
    if (button) button.disabled = false;
  }
}

export function button(label: string, action: () => Promise<void>, attrs: Attrs = {}): HTMLButtonElement {
  const b: HTMLButtonElement = h('button', { type: 'button', ...attrs, onclick: () => void act(action, b) }, label);
  return b;
}

/** A file picker that also takes files dropped on it: images, or with `kind` video, videos. */
export function dropZone(
  id: string,
  label: string,
  multiple: boolean,
  onFiles: (files: File[]) => void,
  kind: 'image' | 'video' = 'image',
): HTMLElement {
  const input = h('input', { id, type: 'file', accept: `${kind}/*`, multiple, class: 'file' });
  input.addEventListener('change', () => onFiles([...(input.files ?? [])]));
  const zone = h('label', { class: 'drop', for: id }, label, input);
  zone.addEventListener('dragover', (e) => (e.preventDefault(), zone.classList.add('over')));
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    onFiles([...(e.dataTransfer?.files ?? [])].filter((f) => f.type.startsWith(`${kind}/`)));
  });
  return zone;
}

/** A box drawn over a photo stage, in fractions of it, with its label. */
export function boxElement(box: Box, label: string, cls: string): HTMLElement {
  const el = h('div', { class: `box ${cls}` }, h('span', {}, label));
  [el.style.left, el.style.top, el.style.width, el.style.height] = box.map((v) => `${v * 100}%`);
  return el;
}

export function field(label: string, input: HTMLElement): HTMLElement {
  return h('label', { class: 'field', for: input.id }, label, input);
}
