/** The client's Node side: photos and videos read from files, named after them. */
import { openAsBlob } from 'node:fs';
import { basename, extname } from 'node:path';

export * from './client.js';

/** A file as a Blob that streams from disk when it is sent. */
export async function fromFile(path: string, type = ''): Promise<File> {
  const blob = await openAsBlob(path, { type });
  return new File([blob], basename(path), { type });
}

/** A file's photo id for the library: its name without extension, characters outside [A-Za-z0-9._@-] as _. */
export function photoIdOf(path: string): string {
  const id = basename(path, extname(path)).replace(/[^A-Za-z0-9._@-]/g, '_');
  return id.slice(0, 128) || '_';
}
