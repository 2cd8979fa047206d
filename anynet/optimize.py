"""The scipy.optimize adapter: full-batch training on the flat parameter vector.

scipy works on a host float64 NumPy vector; the model's parameters live on its backend
and device in its dtype. Each evaluation copies ``theta`` to the device once, runs one
forward and backward pass, and copies the gradient back once (plus the loss as a float).

    res = anynet.optimize.minimize(model, X, y, method="L-BFGS-B", options={"maxiter": 400})
    res.fun, res.nit, res.success      # a scipy OptimizeResult; the model now holds res.x

    obj = anynet.optimize.Objective(model, X, y)   # fun, jac, fun_and_jac, hessp, x0
    res = scipy.optimize.minimize(obj.fun_and_jac, obj.x0, jac=True, method="CG")
    obj.set_params(res.x)                          # the one way to write res.x back

Any model works, with one loss or several (one per output, weighted): the objective is
the compiled total loss, as ``fit`` minimizes it.

TNC has no iteration limit, only a budget of function evaluations (``maxfun``); current
scipy ignores ``maxiter`` for it with a warning. :func:`minimize` passes a ``maxiter``
given to TNC on as ``maxfun`` (unless ``maxfun`` is given too), so course material that
writes ``options={"maxiter": 400}`` gets a bounded run; ``res.nit`` then counts fewer
iterations, since TNC spends several evaluations per iteration.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.optimize

from anynet import chunked
from anynet.errors import InputError, InputTypeError
from anynet.data import Data
from anynet.validation import check_int

__all__ = ["Objective", "minimize", "GRADIENT_METHODS", "HESSP_METHODS"]

#: methods that use the gradient (``jac``)
GRADIENT_METHODS = frozenset({"cg", "bfgs", "newton-cg", "l-bfgs-b", "tnc", "slsqp", "trust-constr",
                              "trust-ncg", "trust-krylov"})
#: methods that also use a Hessian-vector product (``hessp``), here by finite differences of gradients
HESSP_METHODS = frozenset({"newton-cg", "trust-constr", "trust-ncg", "trust-krylov"})
_NEED_FULL_HESSIAN = frozenset({"dogleg", "trust-exact"})
_BOUNDED = frozenset({"l-bfgs-b", "tnc", "slsqp", "trust-constr", "nelder-mead", "powell", "cobyla", "cobyqa"})


class Objective:
    """The model's loss and gradient as functions of a host float64 vector, for scipy.

    ``x0`` is the model's current parameters. ``fun_and_jac(x)`` returns ``(float,
    float64 array)`` from one forward and backward pass; ``fun`` and ``jac`` share it
    through a small cache, so scipy's separate calls at one point cost one pass.
    ``hessp(x, p)`` is a forward difference of gradients. ``nfev`` counts passes, and the
    lowest loss seen with its parameters is kept in ``best_fun`` / ``best_x``.
    """

    def __init__(self, model: Any, X: Any, y: Any = None) -> None:
        model._require_compiled("optimize")
        self.model = model
        # hook: chunked (Dask) data -- (loss, gradient) summed over row chunks on the workers
        self._chunked = chunked.LossGrad(model, X, y) if chunked.handles(X, y) else None
        self.data: Data | None = None if self._chunked else X if isinstance(X, Data) else model.prepare(X, y)
        p = model.placement
        self._backend, self._device, self._xp = p.backend, p.device, p.xp
        self._np_dtype = np.dtype(model.dtype)
        self._ctx = model.context(training=False)
        self.x0 = self._backend.to_numpy(model.params).astype(np.float64)
        self.size = int(self.x0.shape[0])
        self.nfev = 0
        self.best_fun = math.inf
        self.best_x: np.ndarray | None = None
        self._cache: OrderedDict[bytes, tuple[float, np.ndarray]] = OrderedDict()

    def _check(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.size,):
            raise InputError(f"The parameter vector must have shape ({self.size},), got {x.shape}.")
        return x

    def fun_and_jac(self, x: Any) -> tuple[float, np.ndarray]:
        """Return the loss (a float) and its gradient (float64, same shape as x) at x."""
        x = self._check(x)
        key = x.tobytes()
        hit = self._cache.get(key)
        if hit is not None:
            return hit[0], hit[1].copy()
        if self._chunked is not None:  # hook: chunked (Dask) data
            f, grad = self._chunked(x)
        else:
            theta = self._backend.from_numpy(x.astype(self._np_dtype), self._device)   # the one copy in
            r = self.model.value_and_grad(theta, self.data.X, self.data.y, self._ctx)
            f = float(r.loss)
            grad = self._backend.to_numpy(r.grad).astype(np.float64)                  # the one copy out
        self.nfev += 1
        if f < self.best_fun:
            self.best_fun, self.best_x = f, x.copy()
        self._cache[key] = (f, grad)
        if len(self._cache) > 4:
            self._cache.popitem(last=False)
        return f, grad.copy()

    def fun(self, x: Any) -> float:
        """Return the loss at x as a Python float."""
        return self.fun_and_jac(x)[0]

    def jac(self, x: Any) -> np.ndarray:
        """Return the gradient at x as a float64 NumPy vector."""
        return self.fun_and_jac(x)[1]

    def hessp(self, x: Any, p: Any) -> np.ndarray:
        """Return the Hessian times p, by a forward difference of gradients along p."""
        x, p = self._check(x), self._check(p)
        norm = float(np.linalg.norm(p))
        if norm == 0.0:
            return np.zeros_like(x)
        # sqrt of the working precision, scaled to the size of x, as scipy does for gradients
        eps = math.sqrt(float(np.finfo(self._np_dtype).eps)) * (1.0 + float(np.linalg.norm(x))) / norm
        return (self.jac(x + eps * p) - self.jac(x)) / eps

    def set_params(self, x: Any) -> None:
        """Write a parameter vector (scipy's ``res.x``, float64 on the host) into the model.

        After calling ``scipy.optimize.minimize`` on this objective yourself, the model still
        holds ``x0``; ``objective.set_params(res.x)`` trains it. (:func:`minimize` does this.)
        """
        self.model.params = self._check(x).astype(self._np_dtype)

    def loss_at(self, x: Any) -> float:
        """Return the loss at x from the cache when it was just evaluated, else by a new pass."""
        hit = self._cache.get(np.asarray(x, dtype=np.float64).tobytes())
        return hit[0] if hit is not None else self.fun(x)


def scipy_blas_single_threaded() -> contextlib.AbstractContextManager[Any]:
    """Return a context that keeps SciPy's own BLAS on one thread (no-op without threadpoolctl).

    NumPy and SciPy wheels each bundle an OpenBLAS with its own thread pool. L-BFGS-B's
    small products run on SciPy's; its threads then spin and take the cores that NumPy's
    pool needs for the network's products. On a 2-core machine that made L-BFGS-B four
    times slower. The optimizer's own products are tiny and gain nothing from threads.
    Where NumPy and SciPy share one BLAS (conda's MKL, say) nothing is selected.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return contextlib.nullcontext()
    ctl = ThreadpoolController()
    own = [lib["filepath"] for lib in ctl.info()
           if lib["user_api"] == "blas" and "scipy.libs" in lib["filepath"].replace("\\", "/").split("/")]
    return ctl.select(filepath=own).limit(limits=1) if own else contextlib.nullcontext()


def _options(method: str, options: dict[str, Any] | None) -> dict[str, Any]:
    if options is not None and not isinstance(options, dict):
        raise InputTypeError(f"options must be a dict such as {{'maxiter': 400}}, got {options!r}.")
    opts = dict(options or {})
    for k in ("maxiter", "maxfun"):  # scipy's own errors for these are cryptic (or an OverflowError in C)
        if opts.get(k) is not None and check_int(f"options[{k!r}]", opts[k], minimum=0) >= 2**31:
            raise InputError(f"options[{k!r}] must be below 2**31, got {opts[k]!r}.")
    if method == "tnc" and "maxiter" in opts:
        maxiter = opts.pop("maxiter")
        opts.setdefault("maxfun", maxiter)
    return opts


class _Progress:
    """Per-iteration records (loss, evaluations), the user's callback, and a progress line."""

    def __init__(self, obj: Objective, callback: Callable[[dict[str, Any]], Any] | None, verbose: int,
                 every: int) -> None:
        self.obj, self.callback, self.verbose, self.every = obj, callback, verbose, max(1, every)
        self.loss: list[float] = []
        self.nfev: list[int] = []
        self.start = time.perf_counter()

    def __call__(self, xk: Any, *rest: Any) -> None:
        f = self.obj.loss_at(xk)
        self.loss.append(f)
        self.nfev.append(self.obj.nfev)
        it = len(self.loss)
        if self.verbose and it % self.every == 0:
            sys.stdout.write(f"iteration {it:5d} - loss: {f:.6f} - evaluations: {self.obj.nfev} - "
                             f"{time.perf_counter() - self.start:.1f}s\n")
            sys.stdout.flush()
        if self.callback is not None:
            self.callback({"iteration": it, "loss": f, "nfev": self.obj.nfev, "x": xk})


def minimize(model: Any, X: Any, y: Any, method: str = "L-BFGS-B", *, options: dict[str, Any] | None = None,
             bounds: Sequence[tuple[float | None, float | None]] | scipy.optimize.Bounds | None = None,
             tol: float | None = None, callback: Callable[[dict[str, Any]], Any] | None = None,
             verbose: int = 0, print_every: int = 10) -> scipy.optimize.OptimizeResult:
    """Train ``model`` full-batch on X, y with ``scipy.optimize.minimize`` and return its result.

    The model then holds ``res.x`` (in its dtype, on its device). ``res.history`` has the
    loss after each iteration and the evaluations so far (``{"loss": [...], "nfev": [...]}``).
    ``callback`` gets ``{"iteration", "loss", "nfev", "x"}`` after each iteration;
    ``verbose=1`` prints a line every ``print_every`` iterations. Newton-CG, trust-ncg,
    trust-krylov and trust-constr get a Hessian-vector product by finite differences of
    gradients; dogleg and trust-exact, which need the full Hessian, are refused. On
    KeyboardInterrupt the model keeps the best parameters evaluated so far, and the
    interrupt goes on.
    """
    if not isinstance(method, str):
        raise InputTypeError(f"method must be a scipy.optimize.minimize method name, got {method!r}.")
    key = method.lower()
    if key in _NEED_FULL_HESSIAN:
        raise InputError(f"method {method!r} needs the full Hessian, which anynet does not form; use "
                         f"'trust-krylov' or 'trust-ncg' (Hessian-vector products) instead.")
    if key not in scipy.optimize._minimize.MINIMIZE_METHODS:
        raise InputError(f"Unknown method {method!r}; scipy.optimize.minimize knows "
                         f"{sorted(scipy.optimize._minimize.MINIMIZE_METHODS)}.")
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, numbers.Real)):
        raise InputTypeError(f"tol must be a number >= 0 or None, got {tol!r} of type {type(tol).__name__}.")
    if tol is not None and not tol >= 0:
        raise InputError(f"tol must be a number >= 0 or None, got {tol!r}.")
    if bounds is not None and key not in _BOUNDED:
        raise InputError(f"method {method!r} does not take bounds; use one of {sorted(_BOUNDED)}.")
    obj = Objective(model, X, y)
    if bounds is not None and not isinstance(bounds, scipy.optimize.Bounds) and len(bounds) != obj.size:
        raise InputError(f"bounds must give one (low, high) pair per parameter: {obj.size}, got {len(bounds)}.")
    progress = _Progress(obj, callback, verbose, print_every)
    kwargs: dict[str, Any] = {"method": method, "options": _options(key, options), "callback": progress, "tol": tol}
    if key in GRADIENT_METHODS:
        kwargs["jac"] = True
        fun = obj.fun_and_jac
    else:
        fun = obj.fun
    if key in HESSP_METHODS:
        kwargs["hessp"] = obj.hessp
    if bounds is not None:
        kwargs["bounds"] = bounds
    try:
        with scipy_blas_single_threaded():
            res = scipy.optimize.minimize(fun, obj.x0, **kwargs)
    except KeyboardInterrupt:
        if obj.best_x is not None:
            obj.set_params(obj.best_x)
        raise
    obj.set_params(res.x)
    res.fun = float(res.fun)
    res.history = {"loss": progress.loss, "nfev": progress.nfev}
    if verbose:
        print(f"{method}: {res.message} - loss: {res.fun:.6f} - iterations: {res.get('nit', len(progress.loss))} - "
              f"evaluations: {obj.nfev} - {time.perf_counter() - progress.start:.1f}s")
    return res
