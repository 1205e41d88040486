#!/usr/bin/python3
"""Writes the regularizer conformance cases of nn/testdata/reference/optim.

Same format and update rules as the other optim fixtures (see the
fixtures' README), plus, per layer, optional "kernel_regularizer" and
"bias_regularizer" objects {"l1": a, "l2": b}: Keras's L1L2 penalty
a*sum(|w|) + b*sum(w**2), summed over the weight, added to the batch's mean
loss. The recorded "loss" is that total (as Keras 2 reports it) and
"grads" are the gradients of the total: the penalty is differentiated by
autograd, not applied by the optimizer (weight_decay stays 0).

Run from this folder with Debian's PyTorch:
    apt-get install -y python3-torch && /usr/bin/python3 gen_regularizers.py
"""
import json

import torch

torch.set_default_dtype(torch.float64)


def r4(t):
    return torch.round(t * 1e4) / 1e4


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


ACTS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda z: z, "relu": torch.relu}


def case(name, desc, sizes, acts, loss, regs, opt_name, hyper, batch_size, num_steps, seed):
    g = torch.Generator().manual_seed(seed)
    n = 8
    X = r4(torch.rand(n, sizes[0], generator=g) * 2 - 1)
    if loss == "mse":
        Y = r4(torch.rand(n, sizes[-1], generator=g) * 2 - 1)
    else:
        Y = (torch.rand(n, sizes[-1], generator=g) > 0.5).double()
    params, order, layers = [], [], []
    for i in range(len(sizes) - 1):
        W = r4(torch.rand(sizes[i], sizes[i + 1], generator=g) * 2 - 1).requires_grad_()
        b = r4(torch.rand(sizes[i + 1], generator=g) * 0.1 + 0.01).requires_grad_()  # away from |b|'s kink
        params += [W, b]
        order += [{"name": f"dense_{i}.W", "shape": list(W.shape)}, {"name": f"dense_{i}.b", "shape": list(b.shape)}]
        layer = {"name": f"dense_{i}", "units": sizes[i + 1], "activation": acts[i]}
        layer.update(regs[i])
        layers.append(layer)
    names = [o["name"] for o in order]
    initial = {k: flat(p) for k, p in zip(names, params)}

    def forward(x):
        h = x
        for i in range(len(sizes) - 1):
            h = ACTS[acts[i]](h @ params[2 * i] + params[2 * i + 1])
        return h

    def penalty():
        total = 0.0
        for i, reg in enumerate(regs):
            for key, p in (("kernel_regularizer", params[2 * i]), ("bias_regularizer", params[2 * i + 1])):
                r = reg.get(key)
                if r is None:
                    continue
                assert (p.abs() > 1e-6).all(), "a weight at the kink of |w|"
                if r["l1"]:
                    total = total + (r["l1"] * p.abs()).sum()
                if r["l2"]:
                    total = total + (r["l2"] * p.square()).sum()
        return total

    def data_loss(p, y):
        if loss == "mse":
            return torch.nn.functional.mse_loss(p, y)
        assert ((p > 1e-3) & (p < 1 - 1e-3)).all()
        return torch.nn.functional.binary_cross_entropy(p, y)

    opt = getattr(torch.optim, opt_name)(params, **hyper)
    spe = (n + batch_size - 1) // batch_size
    perm_gen = torch.Generator().manual_seed(seed + 50000)
    steps, k = [], 0
    while k < num_steps:
        perm = torch.randperm(n, generator=perm_gen).tolist() if batch_size < n else list(range(n))
        for lo in range(0, n, batch_size):
            if k == num_steps:
                break
            k += 1
            idx = perm[lo:lo + batch_size]
            opt.zero_grad()
            total = data_loss(forward(X[idx]), Y[idx]) + penalty()
            total.backward()
            grads = {nm: flat(p.grad) for nm, p in zip(names, params)}
            lr = opt.param_groups[0]["lr"]
            opt.step()
            steps.append({"step": k, "epoch": (k - 1) // spe + 1, "batch": idx, "lr": lr, "loss": float(total),
                          "grads": grads, "params": {nm: flat(p) for nm, p in zip(names, params)}})
    with torch.no_grad():
        final = float(data_loss(forward(X), Y) + penalty())
    hyper_all = dict(opt.defaults)
    for key in ("foreach", "capturable", "differentiable", "fused"):
        hyper_all.pop(key, None)
    if "betas" in hyper_all:
        hyper_all["betas"] = list(hyper_all["betas"])
    mode = "full" if batch_size >= n else "minibatch"
    return {
        "format": "gorgonia-nn-fixtures/v1", "kind": "optim", "name": name, "description": desc,
        "generator": {"script": "gen_regularizers.py", "torch_version": torch.__version__, "dtype": "float64", "data_seed": seed},
        "model": {"input_dim": sizes[0], "layers": layers},
        "loss": {"mse": "mse", "bce": "binary_crossentropy"}[loss],
        "data": {"n": n, "X": X.tolist(), "Y": Y.tolist()},
        "param_order": order, "initial_params": initial,
        "optimizer": {"name": opt_name, "hyperparams": hyper_all},
        "scheduler": None, "clip": None,
        "batching": {"mode": mode, "batch_size": min(batch_size, n), "steps_per_epoch": spe,
                     "num_steps": num_steps, "num_epochs": (num_steps + spe - 1) // spe},
        "torch_code": "loss = F.<loss>(net(X[b]), Y[b]) + sum(l1*|w|.sum() + l2*(w**2).sum()); loss.backward(); opt.step()",
        "steps": steps, "final_loss_full_data": final,
    }


CASES = [
    case("adam_l2_l1_penalty_mse_minibatch",
         "Adam with explicit Keras penalties: L2(0.01) on both kernels, L1(0.005) on the first bias; the loss and gradients include them",
         [3, 4, 2], ["tanh", "linear"], "mse",
         [{"kernel_regularizer": {"l1": 0.0, "l2": 0.01}, "bias_regularizer": {"l1": 0.005, "l2": 0.0}},
          {"kernel_regularizer": {"l1": 0.0, "l2": 0.01}}],
         "Adam", {"lr": 0.02}, 3, 9, 314),
    case("sgd_momentum_l1l2_penalty_bce_full",
         "SGD with momentum and an L1L2(0.001, 0.02) penalty on every kernel and bias",
         [3, 4, 1], ["sigmoid", "sigmoid"], "bce",
         [{"kernel_regularizer": {"l1": 0.001, "l2": 0.02}, "bias_regularizer": {"l1": 0.001, "l2": 0.02}},
          {"kernel_regularizer": {"l1": 0.001, "l2": 0.02}, "bias_regularizer": {"l1": 0.001, "l2": 0.02}}],
         "SGD", {"lr": 0.5, "momentum": 0.9}, 8, 12, 2718),
]

if __name__ == "__main__":
    for c in CASES:
        with open(f"optim/{c['name']}.json", "w") as f:
            json.dump(c, f, indent=1)
        print("wrote", c["name"])
