"""ONNX graphs of bprop networks, estimators and pipelines, from one place.

- a :class:`~bprop.core.network.Network`: input ``X`` [N, n_inputs] of the network's
  dtype, output ``output`` [N, n_outputs], equal to ``Network.predict``;
- an ``MLPClassifier`` / ``MLPRegressor``: input ``X`` [N, n_features_in_]; outputs
  ``label`` [N] and ``probabilities`` [N, K] (classifier), ``prediction`` [N] (regressor);
- a fitted Pipeline of a ColumnTransformer and one of them, as ``bprop train`` writes:
  one input per column of the training table, each [N, 1], numeric columns as float
  (the network's dtype), the others as strings; the outputs of its estimator.

What the graph computes, as scikit-learn's transformers and bprop's network do:

- numeric column:      z = (x - mean) / scale   (SimpleImputer: NaN -> the training mean);
- categorical column:  one-hot = Cast(Equal(x, [c_1, ..., c_C]))  (SimpleImputer: the
  empty string is the missing value and becomes the most frequent category); a category
  not seen in training gives an all-zero row, as OneHotEncoder(handle_unknown='ignore');
  categories and cells are compared as text (:func:`category_text`: 2.0 and 2 are '2');
- per layer:           o = phi(o_prev W + b)  (MatMul, Add, and Sigmoid / Tanh / Relu /
  Softmax(axis=1); leaky_relu as Max(net, alpha net), softplus as
  Relu(net) + Log(1 + Exp(-Abs(net))), gaussian as Exp(-net^2): onnxruntime has no
  double-precision LeakyRelu or Softplus kernels);
- outputs:             classification: ``probabilities`` (for two classes [1 - o, o]) and
  ``label`` (the classes, int64 if they are all integers, else strings); regression:
  ``prediction`` = o (with a TransformedTargetRegressor: o scale + mean).

Input names are the column names, with characters other than letters, digits and ``_``
replaced by ``_`` (the mapping is in the model's metadata_props). Opset 19 (Equal on
strings needs it); checked with ``onnx.checker`` before writing. NaN inputs without
imputation give NaN outputs.

The graphs are bprop's own. skl2onnx's MLP converter (``_forward_pass``) applies one
hidden activation, ``model.activation``, from identity, tanh, logistic and relu; bprop
has more activations and one per layer, so the network part needs this exporter in any
case; the preprocessing part covers exactly the steps ``bprop train`` fits.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from bprop.core.network import Network
from bprop.files import atomic_write
from bprop.sklearn.classifier import MLPClassifier
from bprop.sklearn.regressor import MLPRegressor
from bprop.sklearn.tabular import column_groups, final_estimator, table_of

__all__ = ["OPSET", "category_text", "export", "input_names", "onnx_feed", "to_onnx"]

OPSET = 19


def _onnx():
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:  # pragma: no cover - the 'onnx' extra
        raise ImportError("ONNX export needs the onnx package: pip install 'bprop[onnx]'") from None
    return onnx, TensorProto, helper, numpy_helper


def category_text(v: Any) -> str:
    """A category as text: numbers that are whole are written without '.0'; empty -> ''."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def input_names(pipeline: Pipeline) -> dict[str, str]:
    """Column name -> ONNX input name."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for col in table_of(pipeline).features:
        base = re.sub(r"\W", "_", col, flags=re.ASCII) or "column"
        if base[0].isdigit():
            base = f"_{base}"
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        names[col] = name
    return names


class _Graph:
    """Nodes and initialisers with unique names."""

    def __init__(self) -> None:
        _, self.T, self.helper, self.numpy_helper = _onnx()
        self.nodes: list = []
        self.inits: list = []
        self.counter = 0

    def const(self, value: Any, hint: str) -> str:
        self.counter += 1
        name = f"{hint}_{self.counter}"
        self.inits.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        self.counter += 1
        out = f"{hint}_{self.counter}"
        self.nodes.append(self.helper.make_node(op, inputs, [out], **attrs))
        return out

    def output(self, src: str, name: str) -> None:
        self.nodes.append(self.helper.make_node("Identity", [src], [name]))

    def model(self, inputs: list, outputs: list, doc: str, props: dict[str, str]):
        onnx, helper = _onnx()[0], self.helper
        graph = helper.make_graph(self.nodes, "bprop", inputs, outputs, initializer=self.inits)
        proto = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="bprop",
            doc_string=doc,
        )
        proto.ir_version = min(proto.ir_version, 9)  # readable by older onnxruntime builds
        if props:
            helper.set_model_props(proto, props)
        onnx.checker.check_model(proto, full_check=True)
        return proto


def to_onnx(model: Any):
    """The ONNX ModelProto of a Network, a bprop MLPClassifier/MLPRegressor, or a fitted
    Pipeline of a ColumnTransformer and one of them."""
    if isinstance(model, Network):
        return _network_graph(model)
    if isinstance(model, MLPClassifier | MLPRegressor):
        g = _Graph()
        net = model.network_
        elem = g.T.FLOAT if net.dtype == np.float32 else g.T.DOUBLE
        outputs = _head(g, model, _layers(net, "X", g.node, g.const), None, elem)
        inputs = [g.helper.make_tensor_value_info("X", elem, ["N", net.n_inputs])]
        return g.model(inputs, outputs, f"bprop {type(model).__name__}", {})
    if isinstance(model, Pipeline):
        return _pipeline_graph(model)
    raise ValueError(f"cannot export a {type(model).__name__} to ONNX")


def _pipeline_graph(pipeline: Pipeline):
    est = final_estimator(pipeline)
    if len(pipeline.steps) != 2 or not isinstance(est, MLPClassifier | MLPRegressor):
        raise ValueError("ONNX export needs a Pipeline of a ColumnTransformer and a bprop MLP")
    g = _Graph()
    net = est.network_
    dtype = net.dtype
    elem = g.T.FLOAT if dtype == np.float32 else g.T.DOUBLE
    names = input_names(pipeline)
    inputs, parts = [], []
    for cols, steps in column_groups(pipeline.steps[0][1]):
        categorical = any(isinstance(s, OneHotEncoder) for s in steps)
        for j, col in enumerate(cols):
            x = names[col]
            inputs.append(
                g.helper.make_tensor_value_info(x, g.T.STRING if categorical else elem, ["N", 1])
            )
            for step in steps:
                if isinstance(step, SimpleImputer) and categorical:
                    empty = g.node(
                        "Equal", [x, g.const(np.array([""], dtype=object), "empty")], "missing"
                    )
                    fill = np.array([category_text(step.statistics_[j])], dtype=object)
                    x = g.node("Where", [empty, g.const(fill, "fill"), x], "imputed")
                elif isinstance(step, SimpleImputer):
                    fill = g.const(np.array(step.statistics_[j], dtype), "fill")
                    x = g.node("Where", [g.node("IsNaN", [x], "isnan"), fill, x], "imputed")
                elif isinstance(step, StandardScaler):
                    if step.mean_ is not None:
                        x = g.node("Sub", [x, g.const(np.array(step.mean_[j], dtype), "mean")], "c")
                    if step.scale_ is not None:
                        x = g.node(
                            "Div", [x, g.const(np.array(step.scale_[j], dtype), "scale")], "z"
                        )
                elif isinstance(step, OneHotEncoder):
                    cats = np.array([category_text(c) for c in step.categories_[j]], dtype=object)
                    x = g.node(
                        "Cast",
                        [g.node("Equal", [x, g.const(cats, "categories")], "hit")],
                        "onehot",
                        to=elem,
                    )
                else:
                    raise ValueError(f"{type(step).__name__} has no ONNX export")
            parts.append(x)
    o = parts[0] if len(parts) == 1 else g.node("Concat", parts, "inputs", axis=1)
    outputs = _head(g, est, _layers(net, o, g.node, g.const), pipeline.steps[-1][1], elem)
    props = {"bprop_inputs": json.dumps(names)}
    return g.model(inputs, outputs, f"bprop pipeline ({type(est).__name__})", props)


def _head(g: _Graph, est: Any, o: str, final: Any, elem: int) -> list:
    """The estimator's outputs from the network's output ``o``."""
    dtype = est.network_.dtype
    if isinstance(est, MLPClassifier):
        if est.network_.n_outputs == 1:
            one = g.const(np.array(1, dtype), "one")
            proba = g.node("Concat", [g.node("Sub", [one, o], "p0"), o], "proba2", axis=1)
        else:
            proba = o
        g.output(proba, "probabilities")
        index = g.node("ArgMax", [proba], "argmax", axis=1, keepdims=0)
        classes = [c.item() if isinstance(c, np.generic) else c for c in est.classes_]
        if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
            labels, label_elem = np.array(classes, dtype=np.int64), g.T.INT64
        else:
            labels, label_elem = np.array([str(c) for c in classes], dtype=object), g.T.STRING
        g.nodes.append(g.helper.make_node("Gather", [g.const(labels, "classes"), index], ["label"]))
        return [
            g.helper.make_tensor_value_info("label", label_elem, ["N"]),
            g.helper.make_tensor_value_info("probabilities", elem, ["N", len(classes)]),
        ]
    if est.network_.n_outputs != 1:
        g.output(o, "prediction")
        return [g.helper.make_tensor_value_info("prediction", elem, ["N", est.network_.n_outputs])]
    if isinstance(final, TransformedTargetRegressor):
        t = final.transformer_
        if t.scale_ is not None:
            o = g.node("Mul", [o, g.const(np.array(t.scale_[0], dtype), "tscale")], "ys")
        if t.mean_ is not None:
            o = g.node("Add", [o, g.const(np.array(t.mean_[0], dtype), "tmean")], "y")
    axis = g.const(np.array([1], np.int64), "axis")
    g.nodes.append(g.helper.make_node("Squeeze", [o, axis], ["prediction"]))
    return [g.helper.make_tensor_value_info("prediction", elem, ["N"])]


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
    """Write the ONNX graph of a network, estimator or pipeline to ``path`` (atomically)."""
    proto = to_onnx(model)
    with atomic_write(path) as fh:
        fh.write(proto.SerializeToString())


def onnx_feed(pipeline: Pipeline, df: Any) -> dict[str, np.ndarray]:
    """The onnxruntime inputs of a pipeline's graph for the raw rows of a DataFrame."""
    table = table_of(pipeline)
    dtype = final_estimator(pipeline).network_.dtype
    feed = {}
    for col, name in input_names(pipeline).items():
        s = df[col]
        if col in table.numeric:
            feed[name] = s.to_numpy(dtype=dtype, na_value=np.nan).reshape(-1, 1)
        else:
            feed[name] = np.array([category_text(v) for v in s.tolist()], dtype=object)[:, None]
    return feed
