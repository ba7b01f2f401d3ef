"""The model file container: atomic writes, safetensors tensors, validated JSON metadata.

The lowest layer: it knows nothing of networks or estimators; each higher layer stores
its own objects through it."""
