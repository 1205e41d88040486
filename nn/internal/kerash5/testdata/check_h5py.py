"""Check with h5py that the Keras files descent writes load as Keras 2.2.4
loads them.

Runs `go test -run '^TestWriteInterop$' ./nn/internal/kerash5` to write the
files and expected.json (the values as Go wrote them, bytes in hex) into a
temporary folder, then opens each file with h5py and reads it with Keras
2.2.4's own logic (keras/engine/saving.py: load_weights_from_hdf5_group,
load_attributes_from_hdf5_group, the model_weights redirection of
load_weights and load_model), and compares every name, shape, dtype and
byte. It also compares the structure of golden_xor_weights.h5 (what Go
writes for the seed model) with xor_weights_h5py2.h5 (what Keras 2.2.4 and
h5py 2 write): the same groups, datasets, attributes, dtypes and shapes.

Run from anywhere, with Go on the PATH, with Debian's python3
(apt-get install python3-h5py python3-numpy):
    /usr/bin/python3 nn/internal/kerash5/testdata/check_h5py.py
It prints one line per check and 'N passed, M failed', and exits non-zero
on any failure."""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.abspath(os.path.join(here, "..", "..", "..", ".."))
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print("ok  ", what)
    else:
        failed += 1
        print("FAIL", what)


# keras/engine/saving.py of Keras 2.2.4, as it reads.
def load_attributes_from_hdf5_group(group, name):
    if name in group.attrs:
        data = [n.decode("utf8") for n in group.attrs[name]]
    else:
        data = []
        chunk_id = 0
        while ("%s%d" % (name, chunk_id)) in group.attrs:
            data.extend([n.decode("utf8") for n in group.attrs["%s%d" % (name, chunk_id)]])
            chunk_id += 1
    return data


def keras_load(path):
    """What Keras 2.2.4's load_weights / load_model read from the file."""
    out = {"model_config": "", "training_config": ""}
    with h5py.File(path, "r") as f:
        if "layer_names" not in f.attrs and "model_weights" in f:
            out["model_config"] = f.attrs["model_config"].decode("utf8")
            if "training_config" in f.attrs:
                out["training_config"] = f.attrs["training_config"].decode("utf8")
            f = f["model_weights"]
        out["keras_version"] = f.attrs["keras_version"].decode("utf8")
        out["backend"] = f.attrs["backend"].decode("utf8")
        layers = []
        for name in load_attributes_from_hdf5_group(f, "layer_names"):
            g = f[name]
            weights = []
            for wn in load_attributes_from_hdf5_group(g, "weight_names"):
                val = np.asarray(g[wn])
                weights.append({"name": wn, "shape": list(val.shape), "dtype": str(val.dtype),
                                "hex": val.astype(val.dtype.newbyteorder("<")).tobytes().hex()})
            layers.append({"name": name, "weights": weights})
        out["layers"] = layers
    return out


def structure(path):
    """Every object's kind, shape, dtype and attributes (name, dtype,
    string padding, shape, value), for comparing two files."""
    items = {}
    with h5py.File(path, "r") as f:
        def attrs(obj):
            out = {}
            for k in obj.attrs:
                aid = h5py.h5a.open(obj.id, k.encode())
                t = aid.get_type()
                pad = t.get_strpad() if isinstance(t, h5py.h5t.TypeStringID) else None
                vlen = t.is_variable_str() if isinstance(t, h5py.h5t.TypeStringID) else None
                v = obj.attrs[k]
                out[k] = (str(aid.dtype), pad, vlen, aid.shape, repr(v.tolist() if isinstance(v, np.ndarray) else v))
            return out

        def one(name, obj):
            if isinstance(obj, h5py.Dataset):
                items[name] = ("dataset", obj.shape, str(obj.dtype), obj.chunks, obj.compression, attrs(obj))
            else:
                items[name] = ("group", attrs(obj))
        one("/", f)
        f.visititems(one)
    return items


with tempfile.TemporaryDirectory() as tmp:
    cmd = ["go", "test", "-count=1", "-run", "^TestWriteInterop$", "./nn/internal/kerash5", "-args", "-interop-dir=" + tmp]
    run = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    check(run.returncode == 0, "go test -run TestWriteInterop wrote the files\n" + run.stdout + run.stderr if run.returncode else "go test -run TestWriteInterop wrote the files")
    if run.returncode != 0:
        sys.exit(1)
    expected = json.load(open(os.path.join(tmp, "expected.json")))
    for name in sorted(expected):
        want = expected[name]
        want["layers"] = [{"name": l["name"], "weights": l["weights"] or []} for l in (want["layers"] or [])]
        for l in want["layers"]:
            for w in l["weights"]:
                w["shape"] = w["shape"] or []
        try:
            got = keras_load(os.path.join(tmp, name))
        except Exception as e:  # noqa: BLE001: any failure to load is the finding
            check(False, "%s: Keras 2.2.4's loading logic fails: %r" % (name, e))
            continue
        for key in ["keras_version", "backend", "model_config", "training_config"]:
            check(got[key] == want[key], "%s: %s %.40r" % (name, key, got[key]))
        check([l["name"] for l in got["layers"]] == [l["name"] for l in want["layers"]],
              "%s: layer_names (%d layers)" % (name, len(want["layers"])))
        nweights = sum(len(l["weights"]) for l in want["layers"])
        check(got["layers"] == want["layers"], "%s: %d weights: names, shapes, dtypes and bytes" % (name, nweights))
    a = structure(os.path.join(here, "golden_xor_weights.h5"))
    b = structure(os.path.join(here, "xor_weights_h5py2.h5"))
    check(a == b, "golden_xor_weights.h5 (Go) has the structure of xor_weights_h5py2.h5 (Keras 2.2.4 with h5py 2's strings)")
    if a != b:
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                print("   ", k, "\n      go:  ", a.get(k), "\n      h5py:", b.get(k))
    with tempfile.TemporaryDirectory() as tmp2:
        # libhdf5 can also modify what Go wrote.
        path = os.path.join(tmp2, "xor.h5")
        with open(os.path.join(here, "golden_xor_weights.h5"), "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())
        try:
            with h5py.File(path, "a") as f:
                f.create_group("extra_%d" % 1).attrs["weight_names"] = []
                f["dense_1"].attrs["note"] = np.int32(7)
            with h5py.File(path, "r") as f:
                ok = "extra_1" in f and f["dense_1"].attrs["note"] == 7 and f["dense_1/dense_1/kernel:0"].shape == (2, 10)
        except Exception as e:  # noqa: BLE001
            ok = False
            print("   ", repr(e))
        check(ok, "h5py opens golden_xor_weights.h5 for writing, adds to it and reads it back")

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
