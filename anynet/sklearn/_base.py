"""What MLPClassifier and MLPRegressor share: parameters, fitting, the network, the namespaces.

Arrays: without ``array_api_dispatch`` scikit-learn turns every input into NumPy and so
do we: NumPy in, NumPy out (the network may still run elsewhere through ``backend=`` /
``device=``). With ``sklearn.set_config(array_api_dispatch=True)``, X of any array
library anynet has a backend for (torch, CuPy, array-api-strict) is trained on on its own
device, the fitted ``coefs_`` / ``intercepts_`` live there too, and predictions come back
in X's library on X's device. Targets follow X (they are small and pass the host once).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._array_api import check_same_namespace, get_namespace
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import validate_data

import anynet as an
from anynet import backends, regularizers
from anynet.errors import NonFiniteOutputError
from anynet.sklearn._network import build_network, glorot_init, pack, unpack
from anynet.sklearn._solvers import fit_lbfgs, fit_stochastic

__all__ = ["BaseMLP", "host"]

_STOCHASTIC = ("sgd", "adam")


def host(a: Any) -> Any:
    """Return ``a`` as host NumPy when it is an array of an anynet backend; anything else unchanged."""
    adapter = backends.for_array(a)
    return adapter.to_numpy(a) if adapter is not None and adapter.name != "numpy" else a


def dtype_name(a: Any) -> str:
    """Return "float32" or "float64" for a floating array of any library."""
    return "float32" if "float32" in str(a.dtype) else "float64"


class _NetCache:
    """Holds the built network between calls; pickles (and deep-copies) as empty."""

    def __init__(self) -> None:
        self.net: an.Sequential | None = None
        self.key: tuple = ()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()


class BaseMLP(BaseEstimator):
    """Base class of the anynet MLP estimators; use MLPClassifier or MLPRegressor."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        # anynet's SGD keeps momentum below 1 (scikit-learn also accepts 1.0, an undamped velocity)
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "backend": [str, None],
        "device": "no_validation",
        "dtype": [StrOptions({"float32", "float64"}), None],
    }

    # -- namespaces and placement -------------------------------------------------------------
    def _placement(self, X: Any) -> an.Placement:
        return an.resolve({"X": X}, backend=self.backend, device=self.device)

    @staticmethod
    def _on(placement: an.Placement, a: Any, dtype: str | None = None) -> Any:
        """Return ``a`` on the placement (host arrays are copied there), optionally cast."""
        adapter = backends.for_array(a)
        if adapter is None or adapter is not placement.backend or str(adapter.device_of(a)) != str(placement.device):
            a = placement.backend.from_numpy(np.asarray(host(a)), placement.device)
        xp = placement.xp
        return xp.astype(a, getattr(xp, dtype)) if dtype is not None and dtype_name(a) != dtype else a

    @property
    def _fitted_params(self) -> Any:
        """The first fitted kernel: the array whose namespace and device fit used."""
        return self.coefs_[0]

    def _check_X(self, X: Any, method: str) -> Any:
        """Return X validated for ``method`` (same namespace and device as fit, same features)."""
        check_same_namespace(X, self, attribute="_fitted_params", method=method)
        xp, _ = get_namespace(X)
        return validate_data(self, X, reset=False, dtype=(xp.float64, xp.float32))

    def _output_on_device(self) -> bool:
        return backends.for_array(self.coefs_[0]) not in (None, backends.get("numpy"))

    # -- fitting ------------------------------------------------------------------------------
    def _fit(self, X: Any, y: Any, incremental: bool = False) -> BaseMLP:
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        if np.any(np.array(hidden) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % hidden)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y_host, y_labels = self._validate_input(X, y, incremental, reset=first_pass)
        n_samples, n_features = X.shape
        self.n_outputs_ = Y_host.shape[1]
        layer_units = [int(n_features)] + [int(h) for h in hidden] + [int(self.n_outputs_)]
        self._random_state = check_random_state(self.random_state)
        dtype = self.dtype or dtype_name(X)
        placement = self._placement(X)
        on_device = backends.for_array(X) not in (None, backends.get("numpy"))
        if first_pass:
            self._initialize(layer_units, dtype)
        else:
            have = [tuple(W.shape) for W in self.coefs_]
            want = list(zip(layer_units[:-1], layer_units[1:]))
            if have != want:
                raise ValueError(f"warm_start/partial_fit: the fitted coefs_ have shapes {have}, but "
                                 f"hidden_layer_sizes={self.hidden_layer_sizes!r} and the data need {want}.")
        Xd = self._on(placement, X, dtype)
        Yd = self._on(placement, Y_host.astype(dtype), dtype)
        l2 = regularizers.L2(0.0) if self.alpha > 0 else None
        net = build_network(layer_units, self.activation, self.out_activation_, dtype, placement, l2)
        xp = placement.xp
        theta = pack([self._on(placement, W, dtype) for W in self.coefs_],
                     [self._on(placement, b, dtype) for b in self.intercepts_], xp)
        if first_pass and self.solver in _STOCHASTIC:
            self._best_theta = xp.asarray(theta, copy=True)
        if self.solver in _STOCHASTIC:
            theta = fit_stochastic(self, net, theta, Xd, Yd, y_labels, Y_host, l2, incremental)
        else:
            theta = fit_lbfgs(self, net, theta, Xd, Yd, l2)
        if not bool(xp.all(xp.isfinite(theta))):
            raise ValueError("Solver produced non-finite parameter weights. The input data may"
                             " contain large values and need to be preprocessed.")
        net.params = theta
        if on_device:
            self.coefs_, self.intercepts_ = unpack(xp.asarray(theta, copy=True), layer_units, xp)
        else:
            self.coefs_, self.intercepts_ = unpack(placement.backend.to_numpy(theta).copy(), layer_units, np)
        self._net_cache = _NetCache()
        self._net_cache.net, self._net_cache.key = net, self._net_key(placement)
        return self

    def _initialize(self, layer_units: list[int], dtype: str) -> None:
        """scikit-learn's ``_initialize``: counters, the output activation, Glorot weights."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        self.coefs_, self.intercepts_ = glorot_init(layer_units, self.activation, self._random_state, dtype)
        if self.solver in _STOCHASTIC:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    # -- the network at prediction time ----------------------------------------------------
    def _net_key(self, placement: an.Placement) -> tuple:
        units = [int(W.shape[0]) for W in self.coefs_] + [int(self.coefs_[-1].shape[1])]
        return (tuple(units), self.activation, self.out_activation_, dtype_name(self.coefs_[0]), str(placement))

    def _network(self) -> an.Sequential:
        """Return the network holding the current ``coefs_`` / ``intercepts_`` (built once, reused)."""
        placement = an.resolve({"coef": self.coefs_[0]}, backend=self.backend, device=self.device)
        cache = getattr(self, "_net_cache", None)
        key = self._net_key(placement)
        net = cache.net if cache is not None and cache.key == key else None
        if net is None:
            net = build_network(list(key[0]), self.activation, self.out_activation_, key[3], placement, None)
            if cache is not None:
                cache.net, cache.key = net, key
        # coefs_ may have been changed by hand since fit, as scikit-learn allows
        xp = placement.xp
        net.params = pack([self._on(placement, W) for W in self.coefs_],
                          [self._on(placement, b) for b in self.intercepts_], xp)
        return net

    def _forward(self, X: Any, method: str) -> Any:
        """Return the output activations for X: (n_samples, n_outputs_), in X's namespace."""
        X = self._check_X(X, method)
        net = self._network()
        Y = net.predict(X)
        if self.out_activation_ == "exp":
            xp, _ = get_namespace(Y)
            Y = xp.exp(Y)
        return Y

    def _validation_score(self, net: an.Sequential, X_val: Any, y_val: np.ndarray) -> float:
        """Return the score (accuracy or R^2) of the network's current weights on a held-out set."""
        try:
            P = net.predict(X_val)
        except NonFiniteOutputError:
            return float("nan")
        P = np.asarray(host(P))
        if self.out_activation_ == "exp":
            P = np.exp(P)
        return float(self._score_from_outputs(P, y_val))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.array_api_support = True
        return tags
