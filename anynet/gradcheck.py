"""Gradient checking by central differences on the flat parameter vector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from anynet.errors import InputError

__all__ = ["GradcheckResult", "check_gradient", "gradcheck"]


@dataclass(frozen=True)
class GradcheckResult:
    """``rel_diff = ||num - ana|| / ||num + ana||`` over the checked coordinates.

    ``numerical`` and ``analytical`` are float64 host arrays over ``coords``.
    """

    rel_diff: float
    numerical: np.ndarray
    analytical: np.ndarray
    coords: np.ndarray

    def __float__(self) -> float:
        return self.rel_diff


def check_gradient(fun_and_grad: Callable[[Any], tuple[Any, Any]], theta: Any, *, to_numpy: Callable[[Any], np.ndarray],
                   epsilon: float = 1e-4, n_coords: int | None = None, seed: int = 0) -> GradcheckResult:
    """Compare ``fun_and_grad(theta)[1]`` with central differences of ``fun_and_grad(theta)[0]``.

    ``theta`` is a flat array of any backend; ``n_coords`` samples that many coordinates
    (seeded) instead of all of them, for big models.
    """
    if theta.ndim != 1:
        raise InputError(f"theta must be a flat vector, got shape {tuple(theta.shape)}.")
    if not epsilon > 0:
        raise InputError(f"epsilon must be > 0, got {epsilon!r}.")
    n = int(theta.shape[0])
    if n_coords is None or n_coords >= n:
        coords = np.arange(n)
    else:
        coords = np.sort(np.random.default_rng(seed).choice(n, size=int(n_coords), replace=False))
    analytical = to_numpy(fun_and_grad(theta)[1]).astype(np.float64)[coords]
    numerical = np.empty(len(coords))
    work = theta * 1  # a private copy we may write into
    for k, i in enumerate(coords):
        i = int(i)
        orig = float(work[i])  # a float, not a 0-d view (torch indexing returns views)
        work[i] = orig + epsilon
        f_plus = float(fun_and_grad(work)[0])
        work[i] = orig - epsilon
        f_minus = float(fun_and_grad(work)[0])
        work[i] = orig
        numerical[k] = (f_plus - f_minus) / (2.0 * epsilon)
    denom = np.linalg.norm(numerical + analytical)
    diff = np.linalg.norm(numerical - analytical)
    rel = float(diff / denom) if denom > 0 else float(diff)
    return GradcheckResult(rel, numerical, analytical, coords)


def gradcheck(model: Any, X: Any, y: Any, *, epsilon: float = 1e-4, n_coords: int | None = None,
              seed: int = 0, dtype: str = "float64") -> GradcheckResult:
    """Check the model's backprop against central differences of its loss, in ``dtype``.

    Works on any model (several inputs and outputs too). Runs in float64 by default whatever the model's dtype (a float32 check is too noisy to
    mean much). Dropout draws the same masks for every evaluation, so it is checked too.
    Returns a :class:`GradcheckResult`; ex4 expects ``rel_diff`` below 1e-9.
    """
    data = model.prepare(X, y)
    p = model.placement
    xp = p.xp
    theta = xp.astype(model.params, getattr(xp, dtype), copy=True)
    X64 = tuple(xp.astype(x, theta.dtype) for x in data.X)
    rng_seed = seed

    def fun_and_grad(t: Any) -> tuple[Any, Any]:
        ctx = model.context(training=True, rng=p.backend.rng(rng_seed, p.device))
        r = model.value_and_grad(t, X64, data.y, ctx)
        return r.loss, r.grad

    return check_gradient(fun_and_grad, theta, to_numpy=p.backend.to_numpy, epsilon=epsilon,
                          n_coords=n_coords, seed=seed)
