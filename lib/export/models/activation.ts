// MLP activations by their transformers name (ACT2FN keys), as the graph computes them.
import { ExecuTorchError } from '../../runtime/errors';

/** 'gelu_tanh': the tanh approximation; 'gelu': the exact (erf) form. */
export type Activation = 'silu' | 'gelu_tanh' | 'gelu';

const ACTIVATIONS: Record<string, Activation> = {
  silu: 'silu',
  swish: 'silu',
  gelu: 'gelu',
  gelu_pytorch_tanh: 'gelu_tanh',
  gelu_new: 'gelu_tanh',
};

export function activationOf(name: string, where: string): Activation {
  const act = ACTIVATIONS[name];
  if (!act)
    throw new ExecuTorchError('NotSupported', `${where}: activation '${name}' is not supported (${Object.keys(ACTIVATIONS).join(', ')})`);
  return act;
}
