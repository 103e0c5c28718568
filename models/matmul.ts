import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import type { MatMul, Matrix } from './types.js';
import { createSession } from './ort.js';

const { onnx } = onnxProto;

/** A one-node ONNX graph `c = a · bᵀ`: onnxruntime's MLAS kernels run it ~100x faster than a loop in JavaScript. */
function gemmModel(): Uint8Array {
  const input = (name: string, dims: string[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((dimParam) => ({ dimParam })) } } },
    });
  const graph = onnx.GraphProto.create({
    name: 'mul_transposed',
    node: [
      onnx.NodeProto.create({
        opType: 'Gemm',
        input: ['a', 'b'],
        output: ['c'],
        attribute: [onnx.AttributeProto.create({ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 })],
      }),
    ],
    input: [input('a', ['n', 'k']), input('b', ['m', 'k'])],
    output: [input('c', ['n', 'm'])],
  });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ version: 13 }], graph })).finish();
}

export class OnnxMatMul implements MatMul {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(): Promise<OnnxMatMul> {
    return new OnnxMatMul(await createSession(gemmModel()));
  }

  async mulTransposed(a: Matrix, b: Matrix): Promise<Matrix> {
    if (a.cols !== b.cols) throw new Error(`inner dimensions differ: ${a.cols} vs ${b.cols}`);
    if (a.rows === 0 || b.rows === 0) return { data: new Float32Array(0), rows: a.rows, cols: b.rows };
    const out = await this.session.run({
      a: new ort.Tensor('float32', a.data, [a.rows, a.cols]),
      b: new ort.Tensor('float32', b.data, [b.rows, b.cols]),
    });
    return { data: out.c!.data as Float32Array, rows: a.rows, cols: b.rows };
  }
}
