"""One epoch of a 784-256-10 MLP on MNIST-shaped data, by anynet and by its peers.

Contenders: anynet on NumPy; the same network written directly in NumPy (the from-scratch
style, the floor for Python-level code); PyTorch CPU eager; scikit-learn's MLPClassifier.
Each computes the loss of every batch, as a training loop that reports it must.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import Row, median_time

N, D, H, K = 60000, 784, 256, 10


def data(n: int = N, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return MNIST-shaped data: X (n, 784) float32 in [0, 1), y (n,) int64 in 0..9."""
    rng = np.random.default_rng(seed)
    return rng.random((n, D), dtype=np.float32), rng.integers(0, K, n)


def flops_per_sample(hidden: int = H) -> int:
    """Return the matrix-product flops of one training sample (forward and backward, no dX of layer 1)."""
    fwd = 2 * (D * hidden + hidden * K)
    bwd = 2 * (D * hidden) + 2 * (hidden * K) * 2
    return fwd + bwd


# -- anynet ------------------------------------------------------------------------------------

def anynet_epoch(optimizer: str, X: Any, y: Any, batch_size: int, hidden: int = H, backend: str = "numpy",
                 device: Any = None) -> Callable[[], Any]:
    """Return a function that trains one epoch with anynet (the model persists between calls)."""
    import anynet as an

    opt = an.optimizers.SGD(0.01) if optimizer == "sgd" else an.optimizers.Adam(1e-3)
    model = an.Sequential([an.layers.Dense(hidden, activation="relu"), an.layers.Dense(K, activation="softmax")],
                          seed=0, backend=backend, device=device)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    model.build((D,))
    p = model.placement
    Xd, yd = p.backend.from_numpy(np.asarray(X), p.device), p.backend.from_numpy(np.asarray(y), p.device)
    return lambda: model.fit(Xd, yd, epochs=1, batch_size=batch_size, verbose=0)


# -- NumPy, written directly ---------------------------------------------------------------------

class NumpyMLP:
    """The network in plain NumPy, the way the classic tutorials write it (but vectorised)."""

    def __init__(self, optimizer: str, hidden: int = H, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        lim1, lim2 = np.sqrt(6 / (D + hidden)), np.sqrt(6 / (hidden + K))
        self.params = [rng.uniform(-lim1, lim1, (D, hidden)).astype(np.float32), np.zeros(hidden, np.float32),
                       rng.uniform(-lim2, lim2, (hidden, K)).astype(np.float32), np.zeros(K, np.float32)]
        self.optimizer = optimizer
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0
        self.rng = np.random.default_rng(seed + 1)

    def step(self, Xb: np.ndarray, yb: np.ndarray) -> float:
        W1, b1, W2, b2 = self.params
        m = len(yb)
        Z1 = Xb @ W1
        Z1 += b1
        A1 = np.maximum(Z1, 0)
        Z2 = A1 @ W2
        Z2 += b2
        Z2 -= Z2.max(axis=1, keepdims=True)
        E = np.exp(Z2)
        S = E.sum(axis=1, keepdims=True)
        P = E / S
        loss = float(np.mean(np.log(S[:, 0]) - Z2[np.arange(m), yb]))
        dZ2 = P
        dZ2[np.arange(m), yb] -= 1
        dZ2 /= m
        gW2, gb2 = A1.T @ dZ2, dZ2.sum(axis=0)
        dA1 = dZ2 @ W2.T
        dA1[Z1 <= 0] = 0
        gW1, gb1 = Xb.T @ dA1, dA1.sum(axis=0)
        self._update([gW1, gb1, gW2, gb2])
        return loss

    def _update(self, grads: list[np.ndarray]) -> None:
        if self.optimizer == "sgd":
            for p, g in zip(self.params, grads):
                p -= 0.01 * g
            return
        self.t += 1
        lr_t = 1e-3 * np.sqrt(1 - 0.999**self.t) / (1 - 0.9**self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * (g * g)
            p -= lr_t * m / (np.sqrt(v) + 1e-7)

    def epoch(self, X: np.ndarray, y: np.ndarray, batch_size: int) -> float:
        order = self.rng.permutation(len(y))
        total = 0.0
        for a in range(0, len(y), batch_size):
            idx = order[a:a + batch_size]
            total += self.step(X.take(idx, axis=0), y.take(idx)) * len(idx)
        return total / len(y)


# -- PyTorch eager ---------------------------------------------------------------------------------

def torch_epoch(optimizer: str, X: np.ndarray, y: np.ndarray, batch_size: int, hidden: int = H,
                device: str = "cpu") -> Callable[[], Any]:
    """Return a function that trains one epoch with PyTorch eager (model persists between calls)."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(D, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, K)).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01) if optimizer == "sgd" else torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.as_tensor(X, device=device), torch.as_tensor(y, device=device)
    return torch_loop(net, opt, loss_fn, Xt, yt, batch_size, device)


def torch_loop(net: Any, opt: Any, loss_fn: Any, Xt: Any, yt: Any, batch_size: int,
               device: str = "cpu") -> Callable[[], float]:
    """Return a function that runs one shuffled epoch of ``net`` in PyTorch eager; the mean loss."""
    import torch

    gen = torch.Generator(device=device).manual_seed(1)

    def epoch() -> float:
        order = torch.randperm(len(yt), generator=gen, device=device)
        total = torch.zeros((), device=device)
        for a in range(0, len(yt), batch_size):
            idx = order[a:a + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
        return float(total) / len(yt)

    return epoch


# -- scikit-learn ------------------------------------------------------------------------------------

def sklearn_epoch(optimizer: str, X: np.ndarray, y: np.ndarray, batch_size: int, hidden: int = H) -> Callable[[], Any]:
    """Return a function that runs one epoch of MLPClassifier (fresh fit, max_iter=1)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def epoch() -> Any:
        clf = MLPClassifier(hidden_layer_sizes=(hidden,), activation="relu", solver=optimizer, alpha=0.0,
                            batch_size=batch_size, learning_rate_init=0.01 if optimizer == "sgd" else 1e-3,
                            momentum=0.0, max_iter=1, shuffle=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        return clf.loss_

    return epoch


def run(repeats: int = 3, batch_size: int = 128, peak: float | None = None) -> list[Row]:
    """Return one Row per contender and optimizer: median seconds per epoch, GFLOP/s."""
    X, y = data()
    flops = flops_per_sample() * len(y)
    rows = []
    for optimizer in ("sgd", "adam"):
        net = NumpyMLP(optimizer)
        contenders: dict[str, Callable[[], Any]] = {
            "anynet numpy": anynet_epoch(optimizer, X, y, batch_size),
            "numpy direct": lambda net=net: net.epoch(X, y, batch_size),
        }
        try:
            contenders["torch cpu eager"] = torch_epoch(optimizer, X, y, batch_size)
        except ImportError:
            pass
        try:
            contenders["sklearn MLPClassifier"] = sklearn_epoch(optimizer, X, y, batch_size)
        except ImportError:
            pass
        for name, fn in contenders.items():
            times = median_time(fn, repeats=repeats)
            med = float(np.median(times))
            extra = {"GFLOP/s": flops / med / 1e9}
            if peak:
                extra["% of matmul peak"] = 100 * flops / med / 1e9 / peak
            rows.append(Row(f"MLP epoch, {optimizer}, batch {batch_size}", name, med, times, extra))
    return rows
