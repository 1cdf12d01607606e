// y = x W^T + b over the last dim (any leading dims): aten::linear.out, which the
// XNNPACK partition turns into one FullyConnected (carrying the weight's quantization).
import { ExecuTorchError } from '../../../runtime/errors';
import { Dim, Graph, Node, TensorValue, arg, shapeString } from '../graph';

export const LINEAR_OP = 'aten::linear';

/** How a linear's weight is stored in the program (see passes/quantize). */
export type LinearQuant = 'none' | '8da4w' | '8da8w' | '8w' | '4w';

export function linear(g: Graph, x: TensorValue, weight: TensorValue, bias?: TensorValue): TensorValue {
  const [outF, inF] = weight.shape as number[];
  if (x.shape[x.shape.length - 1] !== inF)
    throw new ExecuTorchError('Internal', `linear ${weight.name}: input ${shapeString(x.shape)} does not end in ${inF}`);
  const shape: Dim[] = [...x.shape.slice(0, -1), outF];
  const args = [arg.v(x), arg.v(weight), bias ? arg.v(bias) : arg.none()];
  return g.call(LINEAR_OP, 'out', args, [g.activation(x.dtype, shape)], { quant: 'none' as LinearQuant });
}

export function linearOperands(g: Graph, n: Node): { x: TensorValue; weight: TensorValue; bias?: TensorValue; out: TensorValue } {
  const ref = (i: number) => {
    const a = n.args[i];
    return 'value' in a ? g.tensorById(a.value) : undefined;
  };
  return { x: ref(0)!, weight: ref(1)!, bias: ref(2), out: g.tensorById(n.outputs[0]) };
}
