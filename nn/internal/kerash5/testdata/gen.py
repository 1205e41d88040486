"""Make the Keras HDF5 test files of package kerash5 with h5py, and
expected.json, which records for every file its layers, their weights'
names, shapes, dtypes and values, and the root attributes.

The files follow Keras 2.2.4's keras/engine/saving.py: save_weights()
(save_weights_to_hdf5_group: root attributes layer_names, backend,
keras_version; a group per layer, Activation layers included, with the
attribute weight_names; one dataset per weight at <layer>/<weight name>,
so 'dense_1/kernel:0' nests as dense_1/dense_1/kernel:0) and save_model()
(root attributes keras_version, backend, model_config and
training_config, the weights under model_weights, the optimizer's under
optimizer_weights). Variants: float64 weights, h5py's libver="latest"
(superblock 3, link messages, dense links past 8 layers), chunked+gzip
datasets, and fixed-length root strings as h5py 2 wrote them.

Run from this folder with Debian's python3 (apt-get install python3-h5py):
    /usr/bin/python3 gen.py
h5py 3.7 with HDF5 1.10.8 made the checked-in files. Files written with
libver="latest" (and compact.h5) hold object timestamps, so their bytes
differ from run to run; their content, and expected.json, do not."""
import copy
import json
import numpy as np
import h5py

expected = {}
xor = json.load(open("keras_xor.json"))
xor_cfg = json.loads(xor["model_json"])


def xor_model():
    layers = [l["config"]["name"] for l in xor_cfg["config"]["layers"]]
    weights = {n: [] for n in layers}
    for w in xor["weights"]:
        weights[w["name"].split("/")[0]].append((w["name"], np.array(w["data"]).reshape(w["shape"])))
    return xor_cfg, [(n, weights[n]) for n in layers]


def mlp_model(widths, acts, seed):
    """A Sequential of Dense and Activation layers in Keras 2.2.4's JSON,
    with weights drawn from a seeded generator, rounded to 4 decimals."""
    rng = np.random.default_rng(seed)
    dense_t = xor_cfg["config"]["layers"][0]
    act_t = xor_cfg["config"]["layers"][1]
    cfg = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": []},
           "keras_version": "2.2.4", "backend": "tensorflow"}
    layers = []
    for i, (units, act) in enumerate(zip(widths[1:], acts)):
        d = copy.deepcopy(dense_t)
        d["config"]["name"] = f"dense_{i + 1}"
        d["config"]["units"] = units
        if i == 0:
            d["config"]["batch_input_shape"] = [None, widths[0]]
        else:
            del d["config"]["batch_input_shape"], d["config"]["dtype"]
        a = copy.deepcopy(act_t)
        a["config"]["name"] = f"activation_{i + 1}"
        a["config"]["activation"] = act
        cfg["config"]["layers"] += [d, a]
        k = np.round(rng.uniform(-1, 1, size=(widths[i], units)), 4)
        b = np.round(rng.uniform(-1, 1, size=(units,)), 4)
        layers.append((f"dense_{i + 1}", [(f"dense_{i + 1}/kernel:0", k), (f"dense_{i + 1}/bias:0", b)]))
        layers.append((f"activation_{i + 1}", []))
    return cfg, layers


def root_string(s, fixed):
    """Keras writes str.encode('utf8'): h5py 3 stores bytes as a
    variable-length string, h5py 2 stored a fixed-length one."""
    return np.bytes_(s.encode("utf8")) if fixed else s.encode("utf8")


def save_weights_to_group(g, layers, dtype, fixed, dset_kw):
    """Keras 2.2.4's save_weights_to_hdf5_group."""
    g.attrs["layer_names"] = np.array([n.encode("utf8") for n, _ in layers])
    g.attrs["backend"] = root_string("tensorflow", fixed)
    g.attrs["keras_version"] = root_string("2.2.4", fixed)
    out = []
    for name, weights in layers:
        lg = g.create_group(name)
        names = [wn.encode("utf8") for wn, _ in weights]
        lg.attrs["weight_names"] = np.array(names) if names else []  # [] becomes an empty float64 array
        ws = []
        for wn, val in weights:
            val = val.astype(dtype)
            d = lg.create_dataset(wn, val.shape, dtype=val.dtype, **dset_kw)
            d[:] = val
            ws.append({"name": wn, "shape": list(val.shape), "dtype": str(val.dtype),
                       "data": [float(x) for x in val.ravel()]})
        out.append({"name": name, "weights": ws})
    return out


def save_weights(path, model, dtype="float32", libver="earliest", fixed=False, **dset_kw):
    cfg, layers = model
    with h5py.File(path, "w", libver=libver) as f:
        got = save_weights_to_group(f, layers, dtype, fixed, dset_kw)
    expected[path] = {"layers": got, "keras_version": "2.2.4", "backend": "tensorflow", "model_config": ""}


def save_model(path, model, dtype="float32", fixed=False):
    """Keras 2.2.4's save_model with a compiled model (SGD)."""
    cfg, layers = model
    model_config = json.dumps({"class_name": cfg["class_name"], "config": cfg["config"]})
    training_config = json.dumps({"optimizer_config": {"class_name": "SGD", "config": {"lr": 0.1, "momentum": 0.0, "decay": 0.0, "nesterov": False}},
                                  "loss": "binary_crossentropy", "metrics": ["accuracy"], "sample_weight_mode": None, "loss_weights": None})
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = root_string("2.2.4", fixed)
        f.attrs["backend"] = root_string("tensorflow", fixed)
        f.attrs["model_config"] = root_string(model_config, fixed)
        got = save_weights_to_group(f.create_group("model_weights"), layers, dtype, fixed, {})
        f.attrs["training_config"] = root_string(training_config, fixed)
        og = f.create_group("optimizer_weights")
        og.attrs["weight_names"] = np.array([b"training/SGD/Variable:0", b"SGD/iterations:0"])
        og.create_dataset("training/SGD/Variable:0", data=np.zeros((2, 10), dtype))
        og.create_dataset("SGD/iterations:0", data=np.int64(1000))
    expected[path] = {"layers": got, "keras_version": "2.2.4", "backend": "tensorflow",
                      "model_config": model_config, "training_config": training_config}


save_weights("xor_weights_f64.h5", xor_model(), "float64")
save_weights("xor_weights_latest.h5", xor_model(), libver="latest")
save_weights("xor_weights_gzip.h5", xor_model(), compression="gzip")
save_weights("xor_weights_h5py2.h5", xor_model(), fixed=True)
save_model("xor_model.h5", xor_model())
save_model("mlp_model_h5py2.h5", mlp_model([4, 8, 6, 3], ["relu", "tanh", "softmax"], 1), fixed=True)
save_weights("mlp_weights.h5", mlp_model([4, 8, 6, 3], ["relu", "tanh", "softmax"], 1))
save_weights("mlp_weights_latest_gzip.h5", mlp_model([4, 8, 6, 3], ["relu", "tanh", "softmax"], 1),
             libver="latest", compression="gzip", shuffle=True, chunks=True)
save_weights("deep_weights_latest.h5", mlp_model([3, 5, 5, 5, 5, 5, 2], ["tanh"] * 5 + ["sigmoid"], 2), libver="latest")
with open("expected.json", "w") as out:
    json.dump(expected, out, sort_keys=True)
    out.write("\n")
