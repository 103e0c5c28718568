/**
 * Builds mobilenetv2-12-int8-features.onnx from the ONNX Model Zoo's mobilenetv2-12-int8.onnx.
 * onnxruntime can only fetch graph outputs, so the pooled 1280-d vector (an internal uint8 tensor)
 * is dequantised, flattened and exposed as a second output `features`. Byte-for-byte the same as
 * /work/shared/models/_verify/addfeat.js, so the result matches its published sha256.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export function addFeaturesOutput(model: Uint8Array): Uint8Array {
  const m = onnx.ModelProto.decode(model);
  const g = m.graph;
  if (!g?.node || !g.output) throw new Error('not an ONNX model: no graph');
  // The quantised output of `GlobalAveragePool_97_quant`, [N,1280,1,1] uint8.
  g.node.push(
    onnx.NodeProto.create({
      name: 'features_DequantizeLinear',
      opType: 'DequantizeLinear',
      input: ['464_quantized', '464_scale', '464_zero_point'],
      output: ['features_4d'],
    }),
  );
  g.node.push(
    onnx.NodeProto.create({
      name: 'features_Flatten',
      opType: 'Flatten',
      input: ['features_4d'],
      output: ['features'],
      attribute: [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 })],
    }),
  );
  g.output.push(
    onnx.ValueInfoProto.create({
      name: 'features',
      type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch_size' }, { dimValue: 1280 }] } } },
    }),
  );
  return onnx.ModelProto.encode(m).finish();
}
