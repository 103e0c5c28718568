/** The client's Node side: photos and videos read from files, named after them. */
import { openAsBlob } from 'node:fs';
import { basename } from 'node:path';

export * from './client.js';

/** A file as a Blob that streams from disk when it is sent. */
export async function fromFile(path: string, type = ''): Promise<File> {
  const blob = await openAsBlob(path, { type });
  return new File([blob], basename(path), { type });
}
