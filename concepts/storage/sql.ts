/**
 * The one place where LanceDB filter expressions are written. Values are always literals built here, so a
 * quote in a tenant, user or id can never end the literal and change the filter.
 */
import type { Scope } from '../types.js';

/** A string literal: DataFusion SQL doubles single quotes; backslashes are plain characters there. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function literal(value: string | number): string {
  if (typeof value === 'string') return sqlString(value);
  if (!Number.isFinite(value)) throw new Error(`not a finite number in a filter: ${value}`);
  return String(value);
}

/** A column reference; backticks because `user` is an SQL keyword. */
function column(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad column name: ${name}`);
  return `\`${name}\``;
}

export function eq(name: string, value: string | number): string {
  return `${column(name)} = ${literal(value)}`;
}

export function lessThan(name: string, value: string | number): string {
  return `${column(name)} < ${literal(value)}`;
}

export function greaterThan(name: string, value: number): string {
  return `${column(name)} > ${literal(value)}`;
}

export function oneOf(name: string, values: (string | number)[]): string {
  return `${column(name)} IN (${values.map(literal).join(', ')})`;
}

export function and(...parts: string[]): string {
  return parts.map((p) => `(${p})`).join(' AND ');
}

export function or(...parts: string[]): string {
  return parts.map((p) => `(${p})`).join(' OR ');
}

/** Every query of the store starts from this: one tenant, one user. */
export function scopeWhere(scope: Scope): string {
  return and(eq('tenant', scope.tenant), eq('user', scope.user));
}
