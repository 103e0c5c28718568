/**
 * Writes schema.ts, the client's types, from the app's OpenAPI document in the shape openapi-fetch reads
 * (`paths`, `components`). Hand-written because openapi-typescript needs TypeScript 5's compiler API.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp } from '../../services/api/app.js';
import { loadConfig } from '../../services/config.js';

/** What the generator reads of the JSON schemas zod writes. */
interface Schema {
  $ref?: string;
  const?: unknown;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  type?: string | string[];
  format?: string;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  description?: string;
}
type Content = Record<string, { schema?: Schema }>;
interface Operation {
  summary?: string;
  parameters?: { name: string; in: string; required?: boolean; schema?: Schema; description?: string }[];
  requestBody?: { required?: boolean; content: Content };
  responses?: Record<string, { description?: string; content?: Content }>;
}
type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };

export const SCHEMA_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'schema.ts');

/** The document every route would serve: services are never called while the routes are only registered. */
export async function openApiDocument(): Promise<Doc> {
  const app = createApp({
    service: {} as never,
    personal: {} as never,
    videos: {} as never,
    library: {} as never,
    config: loadConfig({}, () => ''),
    ready: async () => ({ ok: true, checks: {} }),
  });
  return (await app.request('/openapi.json')).json() as Promise<Doc>;
}

const key = (k: string) => (/^([A-Za-z_$][\w$]*|[1-9]\d*)$/.test(k) ? k : JSON.stringify(k));
const indent = (s: string) => s.replace(/\n/g, '\n  ');
/** A description as a JSDoc comment, wrapped so that no line passes 120 columns at any depth. */
function doc(description: string | undefined): string {
  if (!description) return '';
  const lines = [''];
  for (const word of description.replace(/\*\//g, '*\\/').split(/\s+/)) {
    if (lines[lines.length - 1].length + word.length > 80) lines.push('');
    lines[lines.length - 1] += `${lines[lines.length - 1] ? ' ' : ''}${word}`;
  }
  return lines.length === 1 ? `/** ${lines[0]} */\n` : `/**\n${lines.map((l) => ` * ${l}`).join('\n')}\n */\n`;
}

/** Fields as [name, type, required, description]. */
type Field = [string, string, boolean, string?];

function object(fields: Field[], rest?: string): string {
  const lines = fields.map(([k, t, req, d]) => `${doc(d)}${key(k)}${req ? '' : '?'}: ${t};`);
  if (rest) lines.push(`[key: string]: ${rest};`);
  return lines.length ? `{\n  ${indent(lines.join('\n'))}\n}` : 'Record<string, never>';
}

/** A JSON schema (the subset zod writes) as a TypeScript type. */
function typeOf(s: Schema | undefined): string {
  if (!s || Object.keys(s).length === 0) return 'unknown';
  if (s.$ref) return `components['schemas'][${JSON.stringify(String(s.$ref).split('/').pop())}]`;
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v: unknown) => JSON.stringify(v)).join(' | ');
  for (const k of ['anyOf', 'oneOf'] as const) if (s[k]) return `(${s[k].map(typeOf).join(' | ')})`;
  // A member with only a description (zod's way to describe a $ref) constrains nothing.
  const allOf = s.allOf?.filter((m) => Object.keys(m).some((k) => k !== 'description'));
  if (allOf) return allOf.length === 1 ? typeOf(allOf[0]) : `(${allOf.map(typeOf).join(' & ')})`;
  if (Array.isArray(s.type)) return s.type.map((t: string) => typeOf({ ...s, type: t })).join(' | ');
  switch (s.type) {
    case 'string':
      return s.format === 'binary' ? 'Blob' : 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return `${typeOf(s.items)}[]`.replace(/^(.*\|.*)\[\]$/, 'Array<$1>');
    default: {
      const required = new Set<string>(s.required ?? []);
      const props = Object.entries<Schema>(s.properties ?? {});
      const extra = s.additionalProperties;
      const rest = extra === undefined || extra === false ? undefined : extra === true ? 'unknown' : typeOf(extra);
      if (props.length === 0 && rest) return `Record<string, ${rest}>`;
      return object(
        props.map(([k, v]) => [k, typeOf(v), required.has(k), v.description]),
        rest,
      );
    }
  }
}

const content = (c: Content | undefined) =>
  object(Object.entries(c ?? {}).map(([media, m]) => [media, typeOf(m.schema), true]));

function operation(op: Operation): string {
  const params = (where: string) => {
    const ps = (op.parameters ?? []).filter((p) => p.in === where);
    return ps.length ? object(ps.map((p) => [p.name, typeOf(p.schema), !!p.required, p.description])) : 'never';
  };
  const parameters = object(['query', 'header', 'path', 'cookie'].map((w) => [w, params(w), params(w) !== 'never']));
  const body: Field = op.requestBody
    ? ['requestBody', object([['content', content(op.requestBody.content), true]]), !!op.requestBody.required]
    : ['requestBody', 'never', false];
  const responses = object(
    Object.entries(op.responses ?? {}).map(([status, r]) => [
      status,
      object([
        ['headers', '{ [name: string]: unknown }', true],
        ['content', r.content ? content(r.content) : 'never', r.content !== undefined],
      ]),
      true,
      r.description,
    ]),
  );
  return object([['parameters', parameters, true], body, ['responses', responses, true]]);
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function typesSource(d: Doc): string {
  const paths = object(
    Object.entries(d.paths).map(([p, item]) => [
      p,
      object(METHODS.map((m) => [m, item[m] ? operation(item[m]) : 'never', !!item[m], item[m]?.summary])),
      true,
    ]),
  );
  const schemas = object(Object.entries(d.components.schemas).map(([n, s]) => [n, typeOf(s), true, s.description]));
  return (
    "// Generated by `npm run client:types` from the service's OpenAPI document: do not edit.\n\n" +
    `export interface paths ${paths}\n\nexport interface components {\n  schemas: ${indent(schemas)};\n}\n`
  );
}

/** schema.ts as the generator writes it: the types of the app's document, formatted like the rest of the code. */
export async function generatedSchema(): Promise<string> {
  const biome = spawnSync('npx', ['biome', 'format', `--stdin-file-path=${SCHEMA_FILE}`], {
    input: typesSource(await openApiDocument()),
    encoding: 'utf8',
  });
  if (biome.status !== 0) throw new Error(`biome format failed: ${biome.stderr}`);
  return biome.stdout;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(SCHEMA_FILE, await generatedSchema());
