/**
 * Small builders for hand-written ONNX graphs (the tiny test models): tensors, value infos, nodes, attributes, the
 * model.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;
export const BOOL = onnx.TensorProto.DataType.BOOL;

export type Graph = onnxProto.onnx.IGraphProto;

/** A float initializer holding exactly `values`. */
export function floatValues(name: string, dims: number[], values: ArrayLike<number>) {
  const data = Float32Array.from(values);
  if (data.length !== dims.reduce((a, b) => a * b, 1))
    throw new Error(`${name}: ${data.length} values for dims [${dims}]`);
  return onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer) });
}

/** A float initializer of uniform random values in [-scale, scale], drawn from `next` (a seeded generator). */
export function floatTensor(name: string, dims: number[], next: () => number, scale: number) {
  const values = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = (next() * 2 - 1) * scale;
  return floatValues(name, dims, values);
}

export function int64Tensor(name: string, values: number[]) {
  return onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, int64Data: values });
}

/** A graph input or output: numbers are fixed dimensions, strings symbolic ones. */
export function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

export function node(
  opType: string,
  input: string[],
  output: string[],
  attribute: onnxProto.onnx.IAttributeProto[] = [],
) {
  return onnx.NodeProto.create({ name: `${opType}_${output[0]}`, opType, input, output, attribute });
}

export function intsAttr(name: string, ints: number[]) {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
}

export function intAttr(name: string, i: number) {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
}

/** The serialised model (opset 17) around `graph`. */
export function model(graph: Graph): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'nomen scripts',
      graph,
    }),
  ).finish();
}
