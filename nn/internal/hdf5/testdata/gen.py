"""Make the HDF5 test files of package hdf5 with h5py, and expected.json,
which records, for every file, each dataset's shape, dtype and values, each
attribute's value, and the error substring expected for what is not
supported.

Run from this folder with Debian's python3 (apt-get install python3-h5py):
    /usr/bin/python3 gen.py
h5py 3.7 with HDF5 1.10.8 made the checked-in files. Files written with
libver="latest" (and compact.h5) hold object timestamps, so their bytes
differ from run to run; their content, and expected.json, do not."""
import json
import numpy as np
import h5py

rng = np.random.default_rng(16)
expected = {}


def vals(shape, dtype):
    return np.round(rng.uniform(-3, 3, size=shape), 4).astype(dtype)


def record(exp, f):
    """Record every dataset and attribute h5py sees in f."""
    def one(name, obj):
        path = "/" + name if name else "/"
        attrs = {}
        for k, v in obj.attrs.items():
            if isinstance(v, (bytes, np.bytes_)):
                attrs[k] = {"strings": [v.decode()], "shape": []}
            elif isinstance(v, str):
                attrs[k] = {"strings": [v], "shape": []}
            elif isinstance(v, np.ndarray) and v.dtype.kind in "SO":
                attrs[k] = {"strings": [x.decode() if isinstance(x, bytes) else x for x in v.ravel()], "shape": list(v.shape)}
            elif isinstance(v, np.ndarray) and v.dtype.kind == "f":
                attrs[k] = {"floats": [float(x) for x in v.ravel()], "shape": list(v.shape)}
        if attrs:
            exp["attrs"][path] = attrs
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" and obj.dtype.itemsize in (4, 8) and obj.dtype.byteorder in "<=|":
            exp["datasets"][path] = {"shape": list(obj.shape), "dtype": str(obj.dtype),
                                     "data": [float(x) for x in np.asarray(obj[()]).ravel()]}
    one("", f)
    f.visititems(one)


def types(path, libver):
    with h5py.File(path, "w", libver=libver) as f:
        f.attrs["fixed"] = np.bytes_(b"tensorflow")          # fixed-length scalar, as h5py 2 wrote bytes
        f.attrs["vlen"] = b"2.2.4"                             # variable-length scalar, as h5py 3 writes bytes
        f.attrs["fixed_array"] = np.array([b"dense_1", b"activation_1", b""])
        f.attrs["vlen_array"] = np.array(["a", "bc", "d\u00e9f"], dtype=h5py.string_dtype())
        f.attrs["utf8"] = "h\u00e9llo"
        f.attrs["empty"] = []                                  # float64, shape (0,): Keras's empty weight_names
        f.attrs["floats"] = np.array([1.5, -2.25, 3e-8], dtype="f4")
        f.attrs["count"] = np.int64(7)                         # not supported
        f.create_dataset("f32", data=vals((7,), "f4"))
        f.create_dataset("f64", data=vals((3, 4), "f8"))
        f.create_dataset("a/b/c/deep", data=vals((2, 3, 2), "f4"))
        f["a"].attrs["weight_names"] = np.array([b"a/b/c/deep"])
        f.create_dataset("scalar", data=np.float64(-0.125))
        f.create_dataset("empty", data=np.zeros((0,), "f4"))
        f.create_dataset("empty2", data=np.zeros((0, 3), "f8"))
        f.create_dataset("unwritten", shape=(2, 2), dtype="f4")  # storage never allocated: zeros
        f.create_dataset("ints", data=np.arange(4, dtype="i4"))
        f.create_dataset("bigendian", data=np.arange(3, dtype=">f4"))
        vl = f.create_dataset("vlseq", (2,), dtype=h5py.vlen_dtype(np.int32))
        vl[0] = np.arange(2, dtype="i4")
        f.create_dataset("half", data=np.arange(3, dtype="f2"))
        f["soft"] = h5py.SoftLink("/a")
        f["external"] = h5py.ExternalLink("other.h5", "/x")
        f["hard"] = f["f32"]                                   # a second hard link to the same dataset
        record(expected.setdefault(path, {"datasets": {}, "attrs": {}}), f)
    expected[path]["errors"] = {
        "/ints": "datatype class 0 (little-endian signed 4-byte integer) is not supported",
        "/bigendian": "big-endian or VAX-order float32 is not supported",
        "/vlseq": "datatype class 9 (variable-length sequence of datatype class 0 (little-endian signed 4-byte integer)) is not supported",
        "/half": "floating point of 2 bytes that is not IEEE float32 or float64 is not supported",
        "/soft": "soft links are not supported",
        "/external": "external links (to other files) are not supported",
    }


def chunked(path, libver):
    with h5py.File(path, "w", libver=libver) as f:
        f.create_dataset("gzip_single", data=vals((2, 3), "f4"), compression="gzip")
        f.create_dataset("gzip_edges", data=vals((10, 21), "f4"), compression="gzip", chunks=(4, 8))
        f.create_dataset("gzip9_3d", data=vals((5, 3, 4), "f8"), compression="gzip", compression_opts=9, chunks=(2, 2, 3))
        f.create_dataset("shuffle_gzip", data=vals((20,), "f8"), compression="gzip", shuffle=True, chunks=(7,))
        f.create_dataset("fletcher32", data=vals((9,), "f4"), fletcher32=True, chunks=(4,))
        f.create_dataset("plain_chunks", data=vals((6, 5), "f4"), chunks=(4, 4))
        d = f.create_dataset("partial", shape=(6,), dtype="f4", chunks=(2,), fillvalue=-1.5)
        d[0:2] = [1, 2]                                         # chunks 1 and 2 never written: fill value
        f.create_dataset("lzf", data=vals((4,), "f4"), compression="lzf")
        f.create_dataset("unlimited", data=vals((6,), "f8"), maxshape=(None,), chunks=(4,))
        record(expected.setdefault(path, {"datasets": {}, "attrs": {}}), f)
    expected[path]["errors"] = {"/lzf": "filter lzf is not supported"}
    if libver == "latest":
        expected[path]["errors"]["/unlimited"] = 'chunk index "extensible array" is not supported'
        del expected[path]["datasets"]["/unlimited"]
    del expected[path]["datasets"]["/lzf"]


def compact(path):
    with h5py.File(path, "w") as f:
        for name, data in [("compact_f32", vals((2, 3), "f4")), ("compact_f64", vals((4,), "f8"))]:
            space = h5py.h5s.create_simple(data.shape)
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_layout(h5py.h5d.COMPACT)
            tid = h5py.h5t.py_create(data.dtype)
            dsid = h5py.h5d.create(f.id, name.encode(), tid, space, dcpl=dcpl)
            dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data)
            dsid.close()
        record(expected.setdefault(path, {"datasets": {}, "attrs": {}}), f)
    expected[path]["errors"] = {}


def many(path, libver, n):
    """A group of n links (to one dataset) and an object of 12 attributes:
    symbol tables of several nodes with libver earliest, dense storage
    (fractal heap and version 2 B-tree) with latest."""
    with h5py.File(path, "w", libver=libver) as f:
        d = f.create_dataset("target", data=vals((2,), "f4"))
        g = f.create_group("many")
        for i in range(n):
            g[f"link_{i:04d}"] = d
        for i in range(12):
            d.attrs[f"attr_{i:02d}"] = np.bytes_(f"value {i}".encode())
        f.attrs["links"] = n
        record(expected.setdefault(path, {"datasets": {}, "attrs": {}}), f)
    expected[path]["errors"] = {}
    expected[path]["links"] = {"/many": [f"link_{i:04d}" for i in range(n)]}


types("types_earliest.h5", "earliest")
types("types_latest.h5", "latest")
chunked("chunked_earliest.h5", "earliest")
chunked("chunked_latest.h5", "latest")
compact("compact.h5")
many("many_earliest.h5", "earliest", 300)
many("many_latest.h5", "latest", 300)
with open("expected.json", "w") as out:
    json.dump(expected, out, sort_keys=True)
    out.write("\n")
