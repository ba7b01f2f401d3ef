"""The model file container: atomic writes, safetensors tensors, validated JSON metadata.

The lowest layer: it knows nothing of networks or estimators; each higher layer stores
its own objects through it.
"""

from bprop.files.atomic import UnwritableError, atomic_write
from bprop.files.container import FORMAT, FORMAT_VERSION, KINDS, read_container, write_container
from bprop.files.errors import ModelFileError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "KINDS",
    "ModelFileError",
    "UnwritableError",
    "atomic_write",
    "read_container",
    "write_container",
]
