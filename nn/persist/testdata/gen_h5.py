"""Write the Keras HDF5 files the tests of nn/persist read, with h5py, the
way Keras 2.2.4's keras/engine/saving.py writes them (as
../../../../shared/fixtures/gen_h5.py, which made keras_xor_weights.h5, a
copy of the shared fixture):

  keras_mlp_weights.h5  save_weights() of the model of
                        ../../keras/testdata/keras_mlp.json (a 3-6-5-4
                        Dense/Activation model), float32: root attributes
                        layer_names, backend, keras_version; a group per
                        layer, the Activation included, with weight_names;
                        datasets at <layer>/<layer>/kernel:0 ...
  keras_mlp_model.h5    save_model() of the same model, compiled: root
                        attributes keras_version, backend, model_config
                        and training_config, the weights under
                        model_weights, the optimizer's under
                        optimizer_weights.

The tests load them into the model built from keras_mlp.json's model_json
(or, for the model file, from its own model_config) and compare the
predictions with the fixture's expected_predict (numpy's, float64).

Run from this folder with Debian's python3 (apt-get install python3-h5py):
    /usr/bin/python3 gen_h5.py
h5py 3.7 with HDF5 1.10.8 made the checked-in files."""
import json

import h5py
import numpy as np

fx = json.load(open("../../keras/testdata/keras_mlp.json"))
cfg = json.loads(fx["model_json"])
names = [l["config"]["name"] for l in cfg["config"]["layers"]]
by_layer = {n: [] for n in names}
for w in fx["weights"]:
    by_layer[w["name"].split("/")[0]].append(w)


def save_weights_to_group(g, dtype="float32"):
    g.attrs["layer_names"] = np.array([n.encode("utf8") for n in names])
    g.attrs["backend"] = b"tensorflow"
    g.attrs["keras_version"] = b"2.2.4"
    for n in names:
        lg = g.create_group(n)
        wn = [w["name"].encode("utf8") for w in by_layer[n]]
        lg.attrs["weight_names"] = np.array(wn) if wn else []  # [] becomes an empty float64 array, as in Keras
        for w in by_layer[n]:
            val = np.array(w["data"], dtype=dtype).reshape(w["shape"])
            d = lg.create_dataset(w["name"], val.shape, dtype=val.dtype)
            d[:] = val


with h5py.File("keras_mlp_weights.h5", "w") as f:
    save_weights_to_group(f)

with h5py.File("keras_mlp_model.h5", "w") as f:
    f.attrs["keras_version"] = b"2.2.4"
    f.attrs["backend"] = b"tensorflow"
    f.attrs["model_config"] = json.dumps({"class_name": cfg["class_name"], "config": cfg["config"]}).encode("utf8")
    save_weights_to_group(f.create_group("model_weights"))
    f.attrs["training_config"] = json.dumps({"optimizer_config": {"class_name": "Adam", "config": {"lr": 0.001}},
                                             "loss": "categorical_crossentropy", "metrics": ["accuracy"],
                                             "sample_weight_mode": None, "loss_weights": None}).encode("utf8")
    og = f.create_group("optimizer_weights")
    og.attrs["weight_names"] = np.array([b"Adam/iterations:0"])
    og.create_dataset("Adam/iterations:0", data=np.int64(10))
