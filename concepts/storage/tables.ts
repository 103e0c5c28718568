/**
 * LanceDB table plumbing shared by the stores: opening a table against its expected schema, building arrow tables,
 * scalar indexes.
 */
import type * as lancedb from '@lancedb/lancedb';
import { Index, type Table } from '@lancedb/lancedb';
import type {
  DataType,
  Field,
  FixedSizeList,
  Float16,
  Float32,
  Float64,
  Schema,
  Table as ArrowTable,
  Vector,
} from 'apache-arrow';
import { arrow } from './arrow.js';
import { withCommitRetry } from './commit-retry.js';
import { toHalves } from './float16.js';

/**
 * Opens table `name` (creating it if absent) and checks it has the `expected` columns. `vectorColumn` names the
 * column of encoder vectors, whose dimension gets its own message: it differs when the encoder changed.
 * `added` gives columns that later versions added a SQL expression for their value in older tables.
 */
export async function openTable(
  db: lancedb.Connection,
  name: string,
  expected: Schema,
  vectorColumn?: string,
  added: Record<string, string> = {},
): Promise<Table> {
  // Open an existing table as it is (createEmptyTable would only say "schema does not match"), so that a
  // dimension mismatch gets its own message.
  const table = (await db.tableNames()).includes(name)
    ? await db.openTable(name)
    : await db.createEmptyTable(name, expected, { existOk: true });
  let actual = await table.schema();
  const absent = Object.entries(added).filter(([column]) => !actual.fields.some((f) => f.name === column));
  if (absent.length > 0) {
    await withCommitRetry(() => table.addColumns(absent.map(([column, valueSql]) => ({ name: column, valueSql }))));
    actual = await table.schema();
  }
  if (vectorColumn) {
    const listSize = (s: Schema) =>
      (s.fields.find((f) => f.name === vectorColumn)?.type as { listSize?: number } | undefined)?.listSize;
    const [stored, dim] = [listSize(actual), listSize(expected)];
    if (stored !== dim)
      throw new Error(
        `table ${name} holds ${stored}-dimensional vectors but the encoder makes ${dim}-dimensional ones: ` +
          'a different encoder needs its own data folder',
      );
  }
  for (const field of expected.fields) {
    const have = actual.fields.find((f) => f.name === field.name);
    if (String(have?.type) !== String(field.type))
      throw new Error(
        `table ${name}: column ${field.name} is ${have ? String(have.type) : 'missing'}, expected ` +
          `${String(field.type)}`,
      );
  }
  return table;
}

/** A BTREE index on `column`, built once the table holds rows; `optimize` later folds new rows into it. */
export async function ensureScalarIndex(table: Table, column: string): Promise<void> {
  const indexed = new Set((await table.listIndices()).flatMap((i) => i.columns));
  if (indexed.has(column) || (await table.countRows()) === 0) return;
  await withCommitRetry(() => table.createIndex(column, { config: Index.btree() }));
}

/** One column's values, in row order. */
export type Values = string[] | number[] | ArrayLike<number>[];

function columnData(type: DataType, values: Values, length: number) {
  if (arrow.DataType.isUtf8(type)) return arrow.vectorFromArray(values as string[], new arrow.Utf8()).data[0];
  if (arrow.DataType.isFixedSizeList(type)) {
    const { listSize } = type;
    const item = type.children[0].type;
    const precision = arrow.DataType.isFloat(item) ? item.precision : arrow.Precision.SINGLE;
    const flat =
      precision === arrow.Precision.DOUBLE ? new Float64Array(length * listSize) : new Float32Array(length * listSize);
    (values as ArrayLike<number>[]).forEach((v, i) => {
      if (v.length !== listSize) throw new Error(`expected ${listSize} values, got ${v.length}`);
      flat.set(v, i * listSize);
    });
    const data = precision === arrow.Precision.HALF ? toHalves(flat) : flat;
    return arrow.makeData({
      type,
      length,
      nullCount: 0,
      child: arrow.makeData({ type: item, length: flat.length, data }),
    });
  }
  const data = arrow.DataType.isInt(type) ? Int32Array.from(values as number[]) : Float64Array.from(values as number[]);
  return arrow.makeData({ type, length, nullCount: 0, data } as never);
}

/** An arrow table with exactly `schema`, from one array of values per field. */
export function tableOf(schema: Schema, columns: Record<string, Values>, length: number): ArrowTable {
  const children = schema.fields.map((f: Field) => columnData(f.type, columns[f.name], length));
  const data = arrow.makeData({ type: new arrow.Struct(schema.fields), length, nullCount: 0, children });
  return new arrow.Table([new arrow.RecordBatch(schema, data)]);
}

/** The type of a column of `dim` floats per row (vectors, boxes). */
export function floats(dim: number, item: Float16 | Float32 | Float64): FixedSizeList {
  return new arrow.FixedSizeList(dim, new arrow.Field('item', item, true));
}

/** A column's values in place; `width` > 1 reads the items of a fixed-size list column. */
export function columnValues<T extends Int32Array | Float64Array | Float32Array | Uint16Array>(
  column: Vector,
  width = 1,
): T {
  if (column.data.length !== 1) throw new Error(`expected one chunk per batch column, got ${column.data.length}`);
  const data = column.data[0];
  const items = width === 1 ? data : data.children[0];
  const start = items.offset + (width === 1 ? 0 : data.offset * width);
  return (items.values as T).subarray(start, start + data.length * width) as T;
}
