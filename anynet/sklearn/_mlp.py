"""MLPClassifier and MLPRegressor: scikit-learn's multi-layer perceptrons, trained by anynet.

The parameters, their defaults and meanings, the fitted attributes, the initial weights
(same ``random_state``, same draws), the batches, the losses and the update rules are
scikit-learn's (``sklearn.neural_network``); the forward and backward passes run on
anynet's backends. Three parameters are anynet's own: ``backend`` and ``device`` (where
the network runs; default: where X lives) and ``dtype`` (default: X's, as scikit-learn
does: float32 stays float32, everything else trains in float64).

Differences from scikit-learn: no ``sample_weight``; sparse X is refused (densify it);
``momentum`` must be below 1; ``solver="lbfgs"`` also records ``loss_curve_`` and
``best_loss_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils._array_api import get_namespace
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from anynet import backends
from anynet.sklearn._base import BaseMLP, host

__all__ = ["MLPClassifier", "MLPRegressor"]

_COMMON_DOC = """
    Parameters are scikit-learn's (see ``sklearn.neural_network.{name}``), plus:

    backend : str or None, default=None
        anynet backend to train and predict on ("numpy", "torch", "cupy",
        "array_api_strict"); None: where X lives (or ``anynet.use`` / ``ANYNET_BACKEND``).
    device : device spec or None, default=None
        Device on that backend (``0``, ``"cuda:1"``, ``"device1"``...).
    dtype : {{"float32", "float64"}} or None, default=None
        Training dtype; None follows X as scikit-learn does.
"""


def _check_solver(est: Any) -> bool:
    if est.solver not in ("sgd", "adam"):
        raise AttributeError("partial_fit is only available for stochastic optimizers. "
                             "%s is not stochastic." % est.solver)
    return True


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier (log-loss; lbfgs, sgd or adam) trained with anynet.
    """

    __doc__ += _COMMON_DOC.format(name="MLPClassifier")

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, backend=None, device=None, dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.backend = backend
        self.device = device
        self.dtype = dtype

    def _out_activation(self) -> str:
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax"
        return "logistic"

    def _validate_input(self, X, y, incremental, reset):
        xp, _ = get_namespace(X)
        X, y = validate_data(self, X, host(y), multi_output=True, dtype=(xp.float64, xp.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the "
                                     f"previous call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        Y = self._label_binarizer.transform(y).astype(bool)
        return X, Y, y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the model to X (n_samples, n_features) and class labels y; returns self."""
        return self._fit(X, y, incremental=False)

    @available_if(_check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Run one epoch over X, y (``classes`` is required on the first call); returns self."""
        if _check_partial_fit_first_call(self, host(classes) if classes is not None else None):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(host(y)).startswith("multilabel"):
                self._label_binarizer.fit(host(y))
            else:
                self._label_binarizer.fit(self.classes_)
        return self._fit(X, y, incremental=True)

    # -- prediction ----------------------------------------------------------------------------
    def _labels(self, P: Any) -> Any:
        """Return labels from output activations P (n, n_outputs_), in P's namespace where possible."""
        lb = self._label_binarizer
        if backends.for_array(P) in (None, backends.get("numpy")) or self.classes_.dtype.kind not in "biuf":
            P = np.asarray(host(P))
            return lb.inverse_transform(P.ravel() if self.n_outputs_ == 1 else P)
        xp, _ = get_namespace(P)
        adapter = backends.for_array(P)
        if lb.y_type_ == "multilabel-indicator":
            return xp.astype(P > 0.5, xp.int64)
        classes = adapter.from_numpy(np.asarray(self.classes_), adapter.device_of(P))
        if lb.y_type_ == "multiclass":
            return xp.take(classes, xp.argmax(P, axis=1), axis=0)
        if self.classes_.shape[0] == 1:
            return xp.take(classes, xp.zeros(P.shape[0], dtype=xp.int64, device=adapter.device_of(P)), axis=0)
        return xp.take(classes, xp.astype(P[:, 0] > 0.5, xp.int64), axis=0)

    def predict(self, X):
        """Return the predicted classes, shape (n_samples,) or (n_samples, n_classes) for multi-label."""
        check_is_fitted(self)
        return self._labels(self._forward(X, "predict"))

    def _proba(self, X: Any, method: str) -> Any:
        check_is_fitted(self)
        P = self._forward(X, method)
        if self.n_outputs_ == 1:
            xp, _ = get_namespace(P)
            return xp.concat([1.0 - P, P], axis=1)
        return P

    def predict_proba(self, X):
        """Return class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        return self._proba(X, "predict_proba")

    def predict_log_proba(self, X):
        """Return the log of :meth:`predict_proba`, shape (n_samples, n_classes)."""
        P = self._proba(X, "predict_log_proba")
        xp, _ = get_namespace(P)
        return xp.log(P)

    def _score_from_outputs(self, P: np.ndarray, y: np.ndarray) -> float:
        return accuracy_score(y, self._labels(P))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor (squared error or Poisson; lbfgs, sgd or adam) trained with anynet.
    """

    __doc__ += _COMMON_DOC.format(name="MLPRegressor")

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, backend=None, device=None,
                 dtype=None):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.backend = backend
        self.device = device
        self.dtype = dtype

    _parameter_constraints = {**BaseMLP._parameter_constraints,
                              "loss": [StrOptions({"squared_error", "poisson"})]}

    def _out_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        xp, _ = get_namespace(X)
        X, y = validate_data(self, X, host(y), multi_output=True, y_numeric=True,
                             dtype=(xp.float64, xp.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(f"loss='poisson' needs targets y >= 0; y holds values down to {float(np.min(y)):g}.")
        Y = np.asarray(y).reshape(y.shape[0], -1)
        return X, Y, y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the model to X (n_samples, n_features) and targets y (n_samples,) or (n_samples, n_outputs)."""
        return self._fit(X, y, incremental=False)

    @available_if(_check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """Run one epoch over X, y; returns self."""
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Return the predictions, shape (n_samples,) or (n_samples, n_outputs)."""
        check_is_fitted(self)
        Y = self._forward(X, "predict")
        if Y.shape[1] == 1:
            xp, _ = get_namespace(Y)
            return xp.reshape(Y, (-1,))
        return Y

    def _score_from_outputs(self, P: np.ndarray, y: np.ndarray) -> float:
        return r2_score(y, P.ravel() if P.shape[1] == 1 else P)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
