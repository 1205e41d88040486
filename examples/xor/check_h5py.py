"""Check with h5py and numpy what examples/xor saved, as Keras would read it.

Usage (Debian's python3, apt-get install python3-h5py python3-numpy):
    /usr/bin/python3 examples/xor/check_h5py.py basic_weights.h5 xor.safetensors

basic_weights.h5 and basic_weights.json come from `-save basic_weights.h5`,
xor.safetensors from `-save xor.safetensors`, both runs with the same seed
(so the same weights). The script reads the .h5 file as Keras 2.2.4's
load_weights does (layer_names, then each layer's weight_names), checks
that every weight equals the safetensors file's tensor of the same name
bit for bit (the safetensors header is JSON, its tensors raw little-endian
bytes, so numpy alone reads it), then runs the model described by
basic_weights.json (model.to_json()) on XOR with numpy and checks that it
predicts the classes [0 1 1 0]. It prints one line per check and exits
non-zero on any failure.
"""
import json
import struct
import sys

import h5py
import numpy as np

h5_path, st_path = sys.argv[1], sys.argv[2]
json_path = h5_path.rsplit(".", 1)[0] + ".json"
failed = 0


def check(ok, what):
    global failed
    print("ok  " if ok else "FAIL", what)
    failed += 0 if ok else 1


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    data = b[8 + n:]
    dtypes = {"F32": "<f4", "F64": "<f8"}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        lo, hi = t["data_offsets"]
        out[name] = np.frombuffer(data[lo:hi], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out


st = read_safetensors(st_path)
weights = {}
with h5py.File(h5_path, "r") as f:
    layers = [n.decode("utf8") for n in f.attrs["layer_names"]]
    check(f.attrs["keras_version"] == b"2.2.4" and f.attrs["backend"] == b"tensorflow", "keras_version and backend")
    for layer in layers:
        g = f[layer]
        for wn in [n.decode("utf8") for n in g.attrs["weight_names"]]:
            weights[wn] = np.asarray(g[wn])
check(layers == ["dense_1", "activation_1", "dense_2", "activation_2"], "layer_names %s" % layers)
check(sorted(weights) == sorted(st), "the same weights in both files: %s" % sorted(weights))
for name in sorted(st):
    w = weights.get(name)
    same = w is not None and w.dtype == st[name].dtype and w.shape == st[name].shape and w.tobytes() == st[name].tobytes()
    check(same, "%s %s %s: the same bits as in %s" % (name, None if w is None else w.dtype, None if w is None else w.shape, st_path))

# The model of basic_weights.json, with numpy.
acts = {"linear": lambda z: z, "tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0)}
cfg = json.load(open(json_path))
x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
h = x
for layer in cfg["config"]["layers"]:
    c = layer["config"]
    if layer["class_name"] == "Dense":
        h = acts[c["activation"]](h @ weights[c["name"] + "/kernel:0"] + weights[c["name"] + "/bias:0"])
    elif layer["class_name"] == "Activation":
        h = acts[c["activation"]](h)
classes = [int(v > 0.5) for v in h[:, 0]]
check(classes == [0, 1, 1, 0], "numpy's forward pass of %s with these weights predicts %s %s" % (json_path, np.round(h[:, 0], 4).tolist(), classes))
print("%d failed" % failed)
sys.exit(1 if failed else 0)
