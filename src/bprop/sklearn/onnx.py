"""Export a trained tabular model, preprocessing included, as an ONNX graph.

The graph takes one input per column of the training file, each of shape [N, 1]: numeric
columns as float (the network's dtype, float32 or float64), categorical columns as
strings. It computes, as :class:`~bprop.sklearn.tabular.Preprocessing` and
:class:`~bprop.core.network.Network` do:

- numeric column:      z = (x - mean) / scale   (with imputation: NaN -> the training mean);
- categorical column:  one-hot = Cast(Equal(x, [c_1, ..., c_C]))  (with imputation the
  empty string is the missing value and becomes the most frequent category);
- per layer:           o = phi(o_prev W + b)  (MatMul, Add, and Sigmoid / Tanh / Relu /
  Softmax(axis=1); leaky_relu as Max(net, alpha net), softplus as
  Relu(net) + Log(1 + Exp(-Abs(net))), gaussian as Exp(-net^2): onnxruntime has no
  double-precision LeakyRelu or Softplus kernels);
- outputs:             classification: ``probabilities`` [N, K] (for two classes
  [1 - o, o]) and ``label`` [N] (the class labels, int64 if they are all integers, else
  strings); regression: ``prediction`` [N] = o scale + mean.

Differences from bprop: a category not seen in training gives an all-zero one-hot row
instead of an error (ONNX has no way to raise), and NaN inputs without imputation give
NaN outputs. Input names are the column names, with characters other than letters,
digits and ``_`` replaced by ``_`` (the mapping is in the model's metadata_props).
Opset 19 (Equal on strings needs it); checked with ``onnx.checker`` before writing.

A bare :class:`~bprop.core.network.Network` (``bprop export`` of a file written by
``Network.save``) exports as the layers alone: input ``X`` [N, n_inputs] of the network's
dtype, output ``output`` [N, n_outputs], equal to ``Network.predict``.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np

from bprop.core.network import Network
from bprop.files import atomic_write

__all__ = ["OPSET", "export", "input_names", "onnx_feed", "to_onnx"]

OPSET = 19


def _onnx():
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:  # pragma: no cover - the 'onnx' extra
        raise ImportError("ONNX export needs the onnx package: pip install 'bprop[onnx]'") from None
    return onnx, TensorProto, helper, numpy_helper


def input_names(model: Any) -> dict[str, str]:
    """Column name -> ONNX input name."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for col in model.preprocessing.columns:
        base = re.sub(r"\W", "_", col.name, flags=re.ASCII) or "column"
        if base[0].isdigit():
            base = f"_{base}"
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        names[col.name] = name
    return names


def to_onnx(model: Any):
    """The ONNX ModelProto of a :class:`~bprop.sklearn.tabular.TabularModel` or a bare
    :class:`~bprop.core.network.Network` (input ``X`` [N, n_inputs], output ``output``)."""
    onnx, TensorProto, helper, numpy_helper = _onnx()
    if isinstance(model, Network):
        return _network_graph(model)
    net, pre = model.network, model.preprocessing
    dtype = net.dtype
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    nodes: list = []
    inits: list = []
    counter = [0]

    def const(value: np.ndarray, hint: str) -> str:
        counter[0] += 1
        name = f"{hint}_{counter[0]}"
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        counter[0] += 1
        out = f"{hint}_{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    graph_inputs, parts = [], []
    names = input_names(model)
    for col in pre.columns:
        name = names[col.name]
        if col.kind == "numeric":
            graph_inputs.append(helper.make_tensor_value_info(name, elem, ["N", 1]))
            x = name
            if col.fill is not None:
                x = node(
                    "Where",
                    [node("IsNaN", [x], "isnan"), const(np.array(col.fill, dtype), "fill"), x],
                    "imputed",
                )
            x = node("Sub", [x, const(np.array(col.mean, dtype), "mean")], "centered")
            parts.append(node("Div", [x, const(np.array(col.scale, dtype), "scale")], "z"))
        else:
            graph_inputs.append(helper.make_tensor_value_info(name, TensorProto.STRING, ["N", 1]))
            x = name
            if col.fill is not None:
                empty = node("Equal", [x, const(np.array([""], dtype=object), "empty")], "missing")
                x = node(
                    "Where",
                    [empty, const(np.array([col.fill], dtype=object), "fill"), x],
                    "imputed",
                )
            cats = const(np.array(col.categories, dtype=object), "categories")
            hit = node("Equal", [x, cats], "hit")
            parts.append(node("Cast", [hit], "onehot", to=elem))
    o = parts[0] if len(parts) == 1 else node("Concat", parts, "inputs", axis=1)
    o = _layers(net, o, node, const)
    outputs = []
    if pre.task == "classification":
        if net.n_outputs == 1:
            one = const(np.array(1, dtype), "one")
            proba = node("Concat", [node("Sub", [one, o], "p0"), o], "proba2", axis=1)
        else:
            proba = o
        nodes.append(helper.make_node("Identity", [proba], ["probabilities"]))
        index = node("ArgMax", [proba], "argmax", axis=1, keepdims=0)
        if all(isinstance(c, int) and not isinstance(c, bool) for c in pre.classes):
            labels, label_elem = np.array(pre.classes, dtype=np.int64), TensorProto.INT64
        else:
            labels = np.array([str(c) for c in pre.classes], dtype=object)
            label_elem = TensorProto.STRING
        nodes.append(helper.make_node("Gather", [const(labels, "classes"), index], ["label"]))
        outputs = [
            helper.make_tensor_value_info("label", label_elem, ["N"]),
            helper.make_tensor_value_info("probabilities", elem, ["N", proba_width(pre)]),
        ]
    else:
        y = node(
            "Add",
            [
                node("Mul", [o, const(np.array(pre.target_scale, dtype), "tscale")], "ys"),
                const(np.array(pre.target_mean, dtype), "tmean"),
            ],
            "y",
        )
        nodes.append(
            helper.make_node("Squeeze", [y, const(np.array([1], np.int64), "axis")], ["prediction"])
        )
        outputs = [helper.make_tensor_value_info("prediction", elem, ["N"])]
    graph = helper.make_graph(nodes, "bprop", graph_inputs, outputs, initializer=inits)
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="bprop",
        doc_string=f"bprop {pre.task} model of column {pre.target!r}",
    )
    proto.ir_version = min(proto.ir_version, 9)  # readable by older onnxruntime builds
    helper.set_model_props(proto, {"bprop_inputs": json.dumps(names), "target": pre.target})
    onnx.checker.check_model(proto, full_check=True)
    return proto


def proba_width(pre: Any) -> int:
    return len(pre.classes)


def _layers(net: Any, o: str, node, const) -> str:
    """o = phi(o_prev W + b), layer by layer; returns the output layer's name."""
    for layer, (W, b, act) in enumerate(zip(net.weights, net.biases, net.activations, strict=True)):
        netin = node(
            "Add",
            [node("MatMul", [o, const(W, f"W{layer}")], "xw"), const(b, f"b{layer}")],
            f"net{layer}",
        )
        o = _activation(act, netin, node, const, net.dtype)
    return o


def _network_graph(net: Any):
    onnx, TensorProto, helper, numpy_helper = _onnx()
    elem = TensorProto.FLOAT if net.dtype == np.float32 else TensorProto.DOUBLE
    nodes: list = []
    inits: list = []
    counter = [0]

    def const(value: np.ndarray, hint: str) -> str:
        counter[0] += 1
        inits.append(numpy_helper.from_array(np.asarray(value), f"{hint}_{counter[0]}"))
        return f"{hint}_{counter[0]}"

    def node(op: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        counter[0] += 1
        nodes.append(helper.make_node(op, inputs, [f"{hint}_{counter[0]}"], **attrs))
        return f"{hint}_{counter[0]}"

    o = _layers(net, "X", node, const)
    nodes.append(helper.make_node("Identity", [o], ["output"]))
    graph = helper.make_graph(
        nodes,
        "bprop",
        [helper.make_tensor_value_info("X", elem, ["N", net.n_inputs])],
        [helper.make_tensor_value_info("output", elem, ["N", net.n_outputs])],
        initializer=inits,
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="bprop",
        doc_string=f"bprop network {'-'.join(map(str, net.sizes))}",
    )
    proto.ir_version = min(proto.ir_version, 9)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _activation(act: Any, x: str, node, const, dtype) -> str:
    name = act.name
    if name == "identity":
        return x
    simple = {"logistic": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "exp": "Exp"}
    if name in simple:
        return node(simple[name], [x], name)
    if name == "leaky_relu":  # max(x, alpha x) for 0 <= alpha < 1 (no double LeakyRelu in ORT)
        return node(
            "Max", [x, node("Mul", [x, const(np.array(act.alpha, dtype), "alpha")], "ax")], name
        )
    if name == "softplus":  # max(x, 0) + ln(1 + e^-|x|): never overflows, as logaddexp(0, x)
        one = const(np.array(1, dtype), "one")
        tail = node(
            "Log",
            [
                node(
                    "Add",
                    [one, node("Exp", [node("Neg", [node("Abs", [x], "abs")], "nabs")], "exp")],
                    "1pe",
                )
            ],
            "log",
        )
        return node("Add", [node("Relu", [x], "pos"), tail], name)
    if name == "softmax":
        return node("Softmax", [x], name, axis=1)
    if name == "gaussian":
        return node("Exp", [node("Neg", [node("Mul", [x, x], "sq")], "negsq")], name)
    raise ValueError(f"activation {name!r} has no ONNX export")


def export(model: Any, path: str | os.PathLike) -> None:
    """Write the ONNX graph of a tabular model to ``path`` (atomically)."""
    proto = to_onnx(model)
    with atomic_write(path) as fh:
        fh.write(proto.SerializeToString())


def onnx_feed(model: Any, df: Any) -> dict[str, np.ndarray]:
    """The onnxruntime inputs for the raw rows of a DataFrame (columns as in training)."""
    model.preprocessing.check_columns(df)
    feed = {}
    for col, name in zip(model.preprocessing.columns, input_names(model).values(), strict=True):
        s = df[col.name]
        if col.kind == "numeric":
            feed[name] = s.to_numpy(dtype=model.network.dtype).reshape(-1, 1)
        else:
            values = s.astype(str).where(s.notna(), "").to_numpy(dtype=object)
            feed[name] = values.reshape(-1, 1)
    return feed
