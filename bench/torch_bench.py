#!/usr/bin/env python3
"""PyTorch peer of descent-bench: the same workloads, shapes, data,
initialisation and hyperparameters, printing the same JSON results.

descent-bench runs it once per dtype and thread setting; by hand:

    python3 bench/torch_bench.py --dtype float32 --threads 1 --quick \
        [--mnist DIR] [--weights DIR]

--mnist reads the MNIST IDX files (gzip or plain) from DIR, scaled by 1/255
as descent's data.LoadMNIST; without it the data is the synthetic set of
bench.Synthetic (SplitMix64, seed 1), bit for bit. --weights reads the
initial weights descent-bench writes (float64, Keras layout); without it
torch's own initialisation is used. Never part of CI.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch

PIXELS, CLASSES, HIDDEN = 784, 10, 128
TRAIN_ROWS, TEST_ROWS = 60000, 10000
MNIST_LR, XOR_LR, SEED = 0.05, 0.1, 1
W1, W2, W3 = "W1 xor 2-10-1", "W2 mnist 784-128-10", "W3 mnist predict"
M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(x):
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def synthetic(n, test, dtype):
    bx, by = (3 << 60, 4 << 60) if test else (1 << 60, 2 << 60)
    x = torch.empty(n, PIXELS, dtype=dtype)
    flat = x.view(-1)
    chunk = 1 << 22
    for lo in range(0, n * PIXELS, chunk):
        hi = min(lo + chunk, n * PIXELS)
        k = np.arange(lo, hi, dtype=np.uint64) + np.uint64(SEED ^ bx)
        v = (splitmix64(k) >> np.uint64(40)).astype(np.float64) / float(1 << 24)
        flat[lo:hi] = torch.from_numpy(v)
    k = np.arange(n, dtype=np.uint64) + np.uint64(SEED ^ by)
    y = torch.from_numpy((splitmix64(k) % np.uint64(CLASSES)).astype(np.int64))
    return x, y


def read_idx(path):
    for p in (path + ".gz", path):
        if os.path.exists(p):
            op = gzip.open if p.endswith(".gz") else open
            with op(p, "rb") as f:
                b = f.read()
            dims = b[3]
            shape = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
            return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
    raise FileNotFoundError(path)


def mnist(d, test, dtype):
    pre = "t10k" if test else "train"
    img = read_idx(os.path.join(d, pre + "-images-idx3-ubyte"))
    lab = read_idx(os.path.join(d, pre + "-labels-idx1-ubyte"))
    n = img.shape[0]
    x = torch.empty(n, PIXELS, dtype=dtype)
    for lo in range(0, n, 10000):
        part = torch.from_numpy(img[lo:lo + 10000].reshape(-1, PIXELS).astype(np.float64) / 255.0)
        x[lo:lo + 10000] = part
    return x, torch.from_numpy(lab.astype(np.int64))


def peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_weights(path, shapes):
    vals = np.fromfile(path, dtype="<f8")
    out, off = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(vals[off:off + n].reshape(s))
        off += n
    return out


def make_net(n_in, n_hid, n_out, act, dtype, weights):
    l1, l2 = torch.nn.Linear(n_in, n_hid), torch.nn.Linear(n_hid, n_out)
    if weights is not None:
        w1, b1, w2, b2 = load_weights(weights, [(n_in, n_hid), (n_hid,), (n_hid, n_out), (n_out,)])
        with torch.no_grad():
            l1.weight.copy_(torch.from_numpy(w1.T.copy()))  # Keras [in, out] -> torch [out, in]
            l1.bias.copy_(torch.from_numpy(b1))
            l2.weight.copy_(torch.from_numpy(w2.T.copy()))
            l2.bias.copy_(torch.from_numpy(b2))
    return torch.nn.Sequential(l1, act, l2).to(dtype)


def result(case, steps, batch, epoch_rows, dt, first=0.0, last=0.0):
    us = dt / steps * 1e6
    r = dict(case)
    r.update(examples_per_s=batch / (us / 1e6), ms_per_epoch=us / 1e3 * epoch_rows / batch, us_per_step=us,
             allocs_per_step=0, bytes_per_step=0, peak_rss_mb=peak_rss_mb(), first_loss=first, last_loss=last)
    return r


def run_xor(case, dtype, weights):
    net = make_net(2, 10, 1, torch.nn.Tanh(), dtype, weights and os.path.join(weights, "xor.bin"))
    x = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    y = torch.tensor([[0], [1], [1], [0]], dtype=dtype)
    opt = torch.optim.SGD(net.parameters(), lr=XOR_LR)
    idx = torch.arange(4)

    def step():
        xb, yb = x[idx], y[idx]
        p = torch.sigmoid(net(xb)).clamp(1e-7, 1 - 1e-7)
        loss = -(yb * torch.log(p) + (1 - yb) * torch.log(1 - p)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    first = last = None
    for i in range(case["steps"]):
        last = step()
        if i == 0:
            first = last
    dt = time.perf_counter() - t0
    return result(case, case["steps"], 4, 4, dt, first.item(), last.item())


def run_train(case, dtype, weights, train):
    x, y = train
    n, b = x.shape[0], case["batch"]
    net = make_net(PIXELS, HIDDEN, CLASSES, torch.nn.ReLU(), dtype, weights and os.path.join(weights, "mnist.bin"))
    opt = torch.optim.SGD(net.parameters(), lr=MNIST_LR)
    gen = torch.Generator().manual_seed(SEED)
    state = {"order": torch.arange(n), "pos": n}
    loss_fn = torch.nn.functional.cross_entropy

    def step():
        if state["pos"] + b > n:
            if b < n:
                state["order"] = torch.randperm(n, generator=gen)
            state["pos"] = 0
        idx = state["order"][state["pos"]:state["pos"] + b]
        state["pos"] += b
        xb, yb = x[idx], y[idx]
        loss = loss_fn(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(min(case["steps"], 3)):
        step()
    t0 = time.perf_counter()
    first = last = None
    for i in range(case["steps"]):
        last = step()
        if i == 0:
            first = last
    dt = time.perf_counter() - t0
    return result(case, case["steps"], b, n, dt, first.item(), last.item())


def run_predict(case, dtype, weights, test):
    x, _ = test
    b = case["batch"]
    rows = x.shape[0] // b * b
    net = make_net(PIXELS, HIDDEN, CLASSES, torch.nn.ReLU(), dtype, weights and os.path.join(weights, "mnist.bin"))
    out = torch.empty(rows, CLASSES, dtype=dtype)

    def predict():
        with torch.no_grad():
            for lo in range(0, rows, b):
                out[lo:lo + b] = torch.softmax(net(x[lo:lo + b]), dim=1)

    predict()
    passes = max(1, case["steps"] * b // rows)
    t0 = time.perf_counter()
    for _ in range(passes):
        predict()
    dt = time.perf_counter() - t0
    return result(case, passes * rows // b, b, rows, dt)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--mnist", default="", help="directory of the MNIST IDX files")
    ap.add_argument("--weights", default="", help="directory of descent-bench's mnist.bin and xor.bin")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dtype = torch.float32 if a.dtype == "float32" else torch.float64
    threads = "%d%s" % (a.threads, "-passive" if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE" else "")
    if a.mnist:
        train, test = mnist(a.mnist, False, dtype), mnist(a.mnist, True, dtype)
    else:
        train, test = synthetic(TRAIN_ROWS, False, dtype), synthetic(TEST_ROWS, True, dtype)
    n = train[0].shape[0]
    # name, batch, full, quick, tiny steps: as bench.Cases.
    plan = [(W1, 4, 20000, 1000, 5), (W3, 1000, 100, 10, 1), (W2, 1, 10000, 500, 5),
            (W2, 32, 1875, 100, 3), (W2, 128, 468, 50, 2), (W2, n, 5, 1, 1)]
    weights = a.weights or None
    results = []
    for w, b, full, quick, tiny in plan:
        steps = tiny if a.tiny else quick if a.quick else full
        case = dict(workload=w, impl="torch", dtype=a.dtype, batch=b, steps=steps)
        if w == W1:
            r = run_xor(case, dtype, weights)
        elif w == W2:
            r = run_train(case, dtype, weights, train)
        else:
            r = run_predict(case, dtype, weights, test)
        r["threads"] = threads
        results.append(r)
        print("torch %s %s batch %d: %.1f µs/step" % (w, a.dtype, b, r["us_per_step"]), file=sys.stderr)
    json.dump(results, sys.stdout)
    print()


if __name__ == "__main__":
    main()
