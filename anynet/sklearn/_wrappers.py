"""AnynetClassifier / AnynetRegressor: any anynet model as a scikit-learn estimator.

In the spirit of SciKeras' ``KerasClassifier`` / ``KerasRegressor``: ``model`` is a function
that returns an anynet model (Sequential, functional, convolutional; compiled or not).
Parameters named ``model__<name>`` go to that function, ``fit__<name>`` to ``model.fit``
and ``optimizer__<name>`` to the optimizer's constructor, so all of them can be searched::

    def mlp(units=32, n_features_in_=None, n_classes_=None):
        return an.Sequential([an.layers.Input((n_features_in_,)), an.layers.Dense(units, "relu"),
                              an.layers.Dense(n_classes_, "softmax")])

    clf = AnynetClassifier(mlp, model__units=64, epochs=20, optimizer="adam", optimizer__learning_rate=1e-2)
    GridSearchCV(clf, {"model__units": [16, 64], "batch_size": [32, 128]}, cv=3).fit(X, y)

The function also receives, when its signature names them, what the data tells:
``n_features_in_``, ``X_shape_`` (one sample's shape), ``n_outputs_``, ``n_classes_``,
``classes_``, ``seed`` / ``random_state``, and ``meta`` (all of these in a dict). A model it
returns uncompiled is compiled with ``optimizer``, ``loss`` and ``metrics`` (default loss:
binary cross-entropy for one output unit, sparse categorical cross-entropy otherwise, and
mse for regressors). X may have any number of axes (images for a Conv2D model).
"""

from __future__ import annotations

import inspect
import os
import tempfile
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

import anynet as an
from anynet import optimizers

__all__ = ["AnynetClassifier", "AnynetRegressor"]

ROUTES = ("model", "fit", "optimizer")


class _AnynetWrapper(BaseEstimator):
    def __init__(self, model=None, *, optimizer="rmsprop", loss=None, metrics=None, epochs=1, batch_size=32,
                 shuffle=True, validation_split=0.0, callbacks=None, verbose=0, warm_start=False,
                 random_state=None, **kwargs):
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.validation_split = validation_split
        self.callbacks = callbacks
        self.verbose = verbose
        self.warm_start = warm_start
        self.random_state = random_state
        for key, value in kwargs.items():
            self._check_routed(key)
            setattr(self, key, value)

    # -- routed parameters ---------------------------------------------------------------------
    @staticmethod
    def _check_routed(key: str) -> None:
        if key.split("__", 1)[0] not in ROUTES or "__" not in key:
            raise TypeError(f"Unexpected parameter {key!r}: extra parameters must be routed as "
                            f"{', '.join(r + '__<name>' for r in ROUTES)}.")

    def _routed(self, route: str) -> dict[str, Any]:
        prefix = route + "__"
        return {k[len(prefix):]: v for k, v in vars(self).items() if k.startswith(prefix)}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        out = super().get_params(deep=deep)
        out.update({k: v for k, v in vars(self).items() if "__" in k and k.split("__", 1)[0] in ROUTES})
        return out

    def set_params(self, **params: Any):
        plain = {}
        for key, value in params.items():
            if "__" in key and key.split("__", 1)[0] in ROUTES:
                setattr(self, key, value)
            else:
                plain[key] = value
        return super().set_params(**plain) if plain else self

    # -- building ------------------------------------------------------------------------------
    def _meta(self, X: Any) -> dict[str, Any]:
        meta = {"n_features_in_": self.n_features_in_, "X_shape_": tuple(int(d) for d in X.shape[1:]),
                "n_outputs_": self.n_outputs_}
        if hasattr(self, "classes_"):
            meta.update(n_classes_=len(self.classes_), classes_=self.classes_)
        if self.random_state is not None:
            meta.update(seed=int(self.random_state), random_state=int(self.random_state))
        return meta

    def _build(self, X: Any) -> Any:
        if not callable(self.model):
            raise TypeError(f"model must be a function that returns an anynet model, got {self.model!r}.")
        meta = self._meta(X)
        sig = inspect.signature(self.model)
        takes_all = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
        kwargs = {k: v for k, v in meta.items() if takes_all or k in sig.parameters}
        if "meta" in sig.parameters:
            kwargs["meta"] = meta
        kwargs.update(self._routed("model"))
        model = self.model(**kwargs)
        if not getattr(model, "built", True) and hasattr(model, "build"):
            model.build(meta["X_shape_"])
        if getattr(model, "loss", None) is None:
            opt = self.optimizer
            routed = self._routed("optimizer")
            if isinstance(opt, str) and routed:
                opt = type(optimizers.get(opt))(**routed)
            model.compile(optimizer=opt, loss=self.loss or self._default_loss(model), metrics=self.metrics)
        return model

    # -- fitting -------------------------------------------------------------------------------
    def _fit(self, X: Any, y: Any, epochs: int, reuse: bool, fit_params: dict[str, Any]):
        first = not (reuse and hasattr(self, "model_"))
        X, y = validate_data(self, X, y, allow_nd=True, multi_output=True, reset=first, dtype="numeric",
                             y_numeric=isinstance(self, RegressorMixin))
        self._set_targets(y, first)
        if first:
            self.model_ = self._build(X)
        kwargs = {"epochs": epochs, "batch_size": self.batch_size, "shuffle": self.shuffle,
                  "validation_split": self.validation_split, "callbacks": self.callbacks, "verbose": self.verbose,
                  **self._routed("fit"), **fit_params}
        history = self.model_.fit(X, self._encode(y), **kwargs)
        hist = dict(getattr(history, "history", {}) or {})
        if first or not hasattr(self, "history_"):
            self.history_ = hist
        else:
            for k, v in hist.items():
                self.history_.setdefault(k, []).extend(v)
        return self

    def fit(self, X, y, **fit_params):
        """Build (or, with ``warm_start``, reuse) the model and train it ``epochs`` epochs; returns self."""
        return self._fit(X, y, self.epochs, self.warm_start, fit_params)

    def partial_fit(self, X, y, **fit_params):
        """Train one epoch on X, y, building the model on the first call; returns self."""
        return self._fit(X, y, 1, True, fit_params)

    def _outputs(self, X: Any) -> Any:
        check_is_fitted(self)
        X = validate_data(self, X, allow_nd=True, reset=False, dtype="numeric")
        return self.model_.predict(X)

    # -- pickling: the model travels as an .anynet file --------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        if "model_" in state:
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "model.anynet")
                state["model_"].save(path)
                with open(path, "rb") as f:
                    state["model_"] = ("anynet-file", f.read())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        model = state.get("model_")
        if isinstance(model, tuple) and model and model[0] == "anynet-file":
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "model.anynet")
                with open(path, "wb") as f:
                    f.write(model[1])
                state["model_"] = an.load(path)
        super().__setstate__(state)


class AnynetClassifier(ClassifierMixin, _AnynetWrapper):
    """A classifier around a function that returns an anynet model (see the module docstring)."""

    def _default_loss(self, model: Any) -> str:
        return "binary_crossentropy" if tuple(model.output_shape) == (1,) else "sparse_categorical_crossentropy"

    def _set_targets(self, y: Any, first: bool) -> None:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"AnynetClassifier takes binary or multiclass labels of shape (n_samples,); "
                             f"got {kind!r} targets of shape {y.shape}.")
        if first:
            self._encoder = LabelEncoder().fit(y)
            self.classes_ = self._encoder.classes_
            self.n_outputs_ = 1
        elif np.setdiff1d(np.unique(y), self.classes_).size:
            raise ValueError(f"y has classes not seen in the first fit: classes_ is {self.classes_}.")

    def _encode(self, y: Any) -> Any:
        codes = self._encoder.transform(np.asarray(y).ravel())
        loss = self.model_.loss
        if loss.sparse:
            return codes
        if tuple(self.model_.output_shape) == (1,):
            return codes.astype(np.float64).reshape(-1, 1)
        return np.eye(len(self.classes_))[codes]

    def predict_proba(self, X):
        """Return class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        P = np.asarray(self._outputs(X), dtype=np.float64)
        return np.concatenate([1.0 - P, P], axis=1) if P.shape[1] == 1 else P

    def predict(self, X):
        """Return the predicted class labels, shape (n_samples,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class AnynetRegressor(RegressorMixin, _AnynetWrapper):
    """A regressor around a function that returns an anynet model (see the module docstring)."""

    def _default_loss(self, model: Any) -> str:
        return "mse"

    def _set_targets(self, y: Any, first: bool) -> None:
        if first:
            self.n_outputs_ = 1 if np.ndim(y) == 1 else int(np.shape(y)[1])

    def _encode(self, y: Any) -> Any:
        return np.asarray(y, dtype=np.float64)

    def predict(self, X):
        """Return the predictions, shape (n_samples,) or (n_samples, n_outputs)."""
        Y = np.asarray(self._outputs(X))
        return Y.reshape(-1) if Y.ndim == 2 and Y.shape[1] == 1 else Y
