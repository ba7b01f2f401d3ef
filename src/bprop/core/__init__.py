"""The numeric core: activations, losses, initialisers, the network (forward and backward
passes, the flat parameter layout), the Jacobian, gradient checking, input checks."""
