/**
 * Reads the final linear layer behind an ONNX model's logits output, as float weights [classes x features].
 * Handles float Gemm/MatMul and quantised QLinearMatMul or DequantizeLinear weights, walking back through
 * the element-wise ops that usually follow (bias add, requantisation, reshape).
 */
import fs from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

const { onnx } = onnxProto;
type Node = Onnx.INodeProto;
type Tensor = Onnx.ITensorProto;

export interface LinearClassifier {
  classes: number;
  features: number;
  /** Row c (features floats) is class c's weight vector. */
  weights: Float32Array;
}

/** Ops between the matrix product and the logits that keep one value per class. */
const PASS_THROUGH = new Set([
  'Add',
  'QLinearAdd',
  'DequantizeLinear',
  'QuantizeLinear',
  'Identity',
  'Flatten',
  'Reshape',
  'Squeeze',
  'Cast',
  'Softmax',
]);

export async function readClassifier(modelPath: string, logits: string): Promise<LinearClassifier> {
  const graph = onnx.ModelProto.decode(await fs.readFile(modelPath)).graph;
  if (!graph) throw new Error(`${modelPath}: no graph`);
  const producer = new Map<string, Node>();
  for (const node of graph.node ?? []) for (const out of node.output ?? []) producer.set(out, node);
  const initializer = new Map<string, Tensor>((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const fail = (why: string) => new Error(`${modelPath}: cannot read the classifier behind "${logits}": ${why}`);

  /** A constant matrix: an initializer, or a DequantizeLinear of one. */
  const constant = (name: string): Matrix => {
    const t = initializer.get(name);
    if (t) return { ...shape2d(t), data: toFloat(t) };
    const node = producer.get(name);
    if (node?.opType !== 'DequantizeLinear') throw fail(`weights "${name}" are not a constant`);
    const [x, scale, zero] = (node.input ?? []).map((i) => initializer.get(i));
    if (!x || !scale) throw fail(`DequantizeLinear "${node.name}" has non-constant inputs`);
    const axis = Number(node.attribute?.find((a) => a.name === 'axis')?.i ?? 1);
    return dequantize(x, scale, zero, axis);
  };

  let name = logits;
  for (let hop = 0; hop < 16; hop++) {
    const node = producer.get(name);
    if (!node) break;
    const inputs = node.input ?? [];
    switch (node.opType) {
      case 'MatMul':
        return transpose(constant(inputs[1]));
      case 'Gemm': {
        const transB = Number(node.attribute?.find((a) => a.name === 'transB')?.i ?? 0);
        const b = constant(inputs[1]);
        return transB ? { classes: b.rows, features: b.cols, weights: b.data } : transpose(b);
      }
      case 'QLinearMatMul': {
        // inputs: a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero; b is per-tensor or per-column.
        const [b, scale, zero] = [inputs[3], inputs[4], inputs[5]].map((i) => initializer.get(i));
        if (!b || !scale) throw fail(`QLinearMatMul "${node.name}" has non-constant weights`);
        return transpose(dequantize(b, scale, zero, 1));
      }
      default: {
        if (!PASS_THROUGH.has(node.opType ?? '')) throw fail(`unsupported op ${node.opType} "${node.name}"`);
        const next = inputs.find((i) => producer.has(i));
        if (!next) throw fail(`"${node.name}" has no computed input`);
        name = next;
      }
    }
  }
  throw fail('no Gemm, MatMul or QLinearMatMul found');
}

interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

function shape2d(t: Tensor): { rows: number; cols: number } {
  const dims = (t.dims ?? []).map(Number);
  if (dims.length !== 2) throw new Error(`tensor "${t.name}" is not 2-D: [${dims.join(', ')}]`);
  return { rows: dims[0], cols: dims[1] };
}

/** [K x N] -> LinearClassifier with N classes of K features. */
function transpose(m: Matrix): LinearClassifier {
  const weights = new Float32Array(m.rows * m.cols);
  for (let k = 0; k < m.rows; k++) for (let n = 0; n < m.cols; n++) weights[n * m.rows + k] = m.data[k * m.cols + n];
  return { classes: m.cols, features: m.rows, weights };
}

/** (x - zero) * scale, with per-tensor or per-`axis` scale and zero point. */
function dequantize(x: Tensor, scale: Tensor, zero: Tensor | undefined, axis: number): Matrix {
  const { rows, cols } = shape2d(x);
  const q = toFloat(x);
  const s = toFloat(scale);
  const z = zero ? toFloat(zero) : new Float32Array(s.length);
  const data = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) {
    const c = s.length === 1 ? 0 : axis === 1 ? i % cols : Math.floor(i / cols);
    data[i] = (q[i] - z[c]) * s[c];
  }
  return { rows, cols, data };
}

const FLOAT = 1;
const UINT8 = 2;
const INT8 = 3;

function toFloat(t: Tensor): Float32Array {
  const raw = t.rawData?.length ? t.rawData : undefined;
  switch (t.dataType) {
    case FLOAT:
      if (!raw) return Float32Array.from(t.floatData ?? []);
      // Copy: raw bytes inside the protobuf buffer need not be 4-byte aligned.
      return new Float32Array(raw.slice().buffer, 0, raw.length / 4);
    case UINT8:
      return raw ? Float32Array.from(raw) : Float32Array.from(t.int32Data ?? []);
    case INT8:
      return raw
        ? Float32Array.from(new Int8Array(raw.buffer, raw.byteOffset, raw.length))
        : Float32Array.from(t.int32Data ?? []);
    default:
      throw new Error(`tensor "${t.name}" has unsupported data type ${t.dataType}`);
  }
}
