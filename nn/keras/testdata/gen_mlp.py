"""Write keras_mlp.json: a Dense/Activation model other than the seed's, in
the format of the shared fixture keras_xor.json (model_json as Keras 2.2.4's
model.to_json() prints it, weights by Keras name, inputs, expected_predict
and expected_layer_outputs), so that the Keras fixture tests are checked on
an architecture they were not written for.

model_json is built from keras_xor.json's own layer configs (same keys in
the same order, as Keras 2.2.4 writes them) with other units, activations
and names; weights are drawn from a seeded generator and rounded to 4
decimals; the forward pass is numpy's, in float64.

Run from this folder with Debian's python3 (apt-get install python3-numpy):
    /usr/bin/python3 gen_mlp.py
"""
import copy
import json

import numpy as np

xor = json.load(open("../../testdata/reference/keras_xor.json"))
template = json.loads(xor["model_json"])
dense_t, act_t = template["config"]["layers"][0], template["config"]["layers"][1]

# (class, name, units or activation, activation inside Dense)
spec = [("Dense", "dense_1", 6, "relu"), ("Dense", "dense_2", 5, "linear"),
        ("Activation", "activation_1", "tanh", None), ("Dense", "dense_3", 4, "softmax")]
inputs_width = 3
rng = np.random.default_rng(20240611)

acts = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "softmax": lambda z: np.exp(z - z.max(axis=1, keepdims=True)) / np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True),
}

cfg = copy.deepcopy(template)
cfg["config"]["layers"] = []
weights, forward = [], []
width = inputs_width
for i, (cls, name, arg, act) in enumerate(spec):
    if cls == "Dense":
        d = copy.deepcopy(dense_t)
        d["config"]["name"], d["config"]["units"], d["config"]["activation"] = name, arg, act
        if i > 0:
            del d["config"]["batch_input_shape"], d["config"]["dtype"]
        else:
            d["config"]["batch_input_shape"] = [None, inputs_width]
        cfg["config"]["layers"].append(d)
        k = np.round(rng.uniform(-1, 1, size=(width, arg)), 4)
        b = np.round(rng.uniform(-0.5, 0.5, size=(arg,)), 4)
        weights += [{"name": name + "/kernel:0", "shape": [width, arg], "data": k.ravel().tolist()},
                    {"name": name + "/bias:0", "shape": [arg], "data": b.ravel().tolist()}]
        forward.append((name, lambda h, k=k, b=b, act=act: acts[act](h @ k + b)))
        width = arg
    else:
        a = copy.deepcopy(act_t)
        a["config"]["name"], a["config"]["activation"] = name, arg
        cfg["config"]["layers"].append(a)
        forward.append((name, lambda h, arg=arg: acts[arg](h)))

x = np.round(rng.uniform(-2, 2, size=(5, inputs_width)), 4)
h, outs = x, {}
for name, f in forward:
    pre = h
    h = f(h)
    if name == "dense_1":  # relu: keep away from the kink
        assert np.all(np.abs(pre @ np.array(weights[0]["data"]).reshape(inputs_width, 6) + np.array(weights[1]["data"])) > 1e-6)
    outs[name] = h.tolist()

out = {
    "format": xor["format"], "kind": xor["kind"], "name": "keras_mlp",
    "description": "A 3-6-5-4 Dense/Activation model (relu, linear + tanh Activation, softmax) in Keras 2.2.4's to_json() format, made by gen_mlp.py",
    "generator": "nn/keras/testdata/gen_mlp.py (numpy %s, float64)" % np.__version__,
    "model_json": json.dumps(cfg),
    "weights": weights,
    "inputs": x.tolist(),
    "expected_predict": h.tolist(),
    "expected_layer_outputs": outs,
}
with open("keras_mlp.json", "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
