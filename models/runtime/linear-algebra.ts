import onnxProto from 'onnx-proto';
import type { LinearAlgebra, Matrix } from '../types.js';
import { type ModelThreads, ort, type Session } from './ort.js';

const { onnx } = onnxProto;

const { FLOAT, FLOAT16 } = onnx.TensorProto.DataType;

const tensorInfo = (name: string, dims: string[], elemType: number = FLOAT) =>
  onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((dimParam) => ({ dimParam })) } } },
  });

/** A one-node ONNX graph: onnxruntime's kernels run dense algebra ~100x faster than loops in JavaScript. */
function oneNodeModel(
  node: onnxProto.onnx.INodeProto,
  inputs: onnxProto.onnx.IValueInfoProto[],
  output: onnxProto.onnx.IValueInfoProto,
): Uint8Array {
  const graph = onnx.GraphProto.create({ name: node.opType ?? 'op', node: [node], input: inputs, output: [output] });
  const opsetImport = [{ version: 13 }, { domain: 'com.microsoft', version: 1 }];
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 7, opsetImport, graph })).finish();
}

export class OnnxLinearAlgebra implements LinearAlgebra {
  private constructor(
    private readonly gemm: Session,
    private readonly inv: Session,
    private readonly cast: Session,
  ) {}

  static async open(threads: ModelThreads): Promise<OnnxLinearAlgebra> {
    const transB = onnx.AttributeProto.create({ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 });
    const gemm = oneNodeModel(
      onnx.NodeProto.create({ opType: 'Gemm', input: ['a', 'b'], output: ['c'], attribute: [transB] }),
      [tensorInfo('a', ['n', 'k']), tensorInfo('b', ['m', 'k'])],
      tensorInfo('c', ['n', 'm']),
    );
    // Inverse is an onnxruntime contrib op (com.microsoft), not standard ONNX.
    const inverse = oneNodeModel(
      onnx.NodeProto.create({ opType: 'Inverse', domain: 'com.microsoft', input: ['a'], output: ['b'] }),
      [tensorInfo('a', ['batch', 'n', 'n'])],
      tensorInfo('b', ['batch', 'n', 'n']),
    );
    const to = onnx.AttributeProto.create({ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT });
    const cast = oneNodeModel(
      onnx.NodeProto.create({ opType: 'Cast', input: ['a'], output: ['b'], attribute: [to] }),
      [tensorInfo('a', ['n'], FLOAT16)],
      tensorInfo('b', ['n']),
    );
    const [g, i, c] = await Promise.all([gemm, inverse, cast].map((model) => threads.openSession(model)));
    return new OnnxLinearAlgebra(g, i, c);
  }

  async fromHalves(bits: Uint16Array): Promise<Float32Array> {
    if (bits.length === 0) return new Float32Array(0);
    const out = await this.cast.run({ a: new ort.Tensor('float16', bits, [bits.length]) });
    return out.b!.data as Float32Array;
  }

  async mulTransposed(a: Matrix, b: Matrix): Promise<Matrix> {
    if (a.cols !== b.cols) throw new Error(`inner dimensions differ: ${a.cols} vs ${b.cols}`);
    if (a.rows === 0 || b.rows === 0) return { data: new Float32Array(0), rows: a.rows, cols: b.rows };
    const out = await this.gemm.run({
      a: new ort.Tensor('float32', a.data, [a.rows, a.cols]),
      b: new ort.Tensor('float32', b.data, [b.rows, b.cols]),
    });
    return { data: out.c!.data as Float32Array, rows: a.rows, cols: b.rows };
  }

  async inverse(matrices: Matrix[]): Promise<Matrix[]> {
    for (const m of matrices) if (m.rows !== m.cols) throw new Error(`cannot invert a ${m.rows}x${m.cols} matrix`);
    if (matrices.length === 0) return [];
    // One batched call (onnxruntime spreads the batch over its threads): smaller matrices are padded with
    // the identity, which leaves their own block of the inverse as it is.
    const n = Math.max(...matrices.map((m) => m.rows));
    const batch = new Float32Array(matrices.length * n * n);
    matrices.forEach((m, b) => {
      const at = b * n * n;
      for (let i = 0; i < m.rows; i++) batch.set(m.data.subarray(i * m.rows, (i + 1) * m.rows), at + i * n);
      for (let i = m.rows; i < n; i++) batch[at + i * n + i] = 1;
    });
    const out = await this.inv.run({ a: new ort.Tensor('float32', batch, [matrices.length, n, n]) }, undefined, true);
    const data = out.b!.data as Float32Array;
    return matrices.map((m, b) => {
      const inv = new Float32Array(m.rows * m.rows);
      for (let i = 0; i < m.rows; i++)
        inv.set(data.subarray(b * n * n + i * n, b * n * n + i * n + m.rows), i * m.rows);
      return { data: inv, rows: m.rows, cols: m.rows };
    });
  }

  async dispose(): Promise<void> {
    await Promise.all([this.gemm.release(), this.inv.release(), this.cast.release()]);
  }
}
