"""The solvers of the MLP estimators: scikit-learn's stochastic loop (sgd, adam) and L-BFGS.

The stochastic loop is scikit-learn's ``_fit_stochastic`` step for step: the same
random-state draws (validation split, per-epoch shuffles), the same batches, the same
learning-rate schedules and stopping rules, and anynet's SGD / Adam, whose updates are
scikit-learn's formulas. Each batch is one ``loss_and_grad`` of the anynet network at the
flat parameter vector ``theta`` on the network's device; the batch losses are read back
once per epoch. L-BFGS is :func:`anynet.optimize.minimize` with scikit-learn's options.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import gen_batches, shuffle
from sklearn.utils.optimize import _check_optimize_result

import anynet as an
from anynet import optimizers, regularizers

__all__ = ["make_optimizer", "fit_stochastic", "fit_lbfgs"]


def make_optimizer(est: Any) -> optimizers.Optimizer:
    """Return the anynet optimizer for ``est.solver`` ("sgd" or "adam") with its hyper-parameters."""
    if est.solver == "sgd":
        return optimizers.SGD(float(est.learning_rate_init), momentum=float(est.momentum),
                              nesterov=bool(est.nesterovs_momentum))
    return optimizers.Adam(float(est.learning_rate_init), beta_1=float(est.beta_1), beta_2=float(est.beta_2),
                           epsilon=float(est.epsilon))


def _set_alpha(l2: regularizers.L2 | None, alpha: float, n: int) -> None:
    if l2 is not None:
        l2.l2 = 0.5 * float(alpha) / n


def fit_stochastic(est: Any, net: an.Sequential, theta: Any, X: Any, Y: Any, y_labels: np.ndarray,
                   Y_host: np.ndarray, l2: regularizers.L2 | None, incremental: bool) -> Any:
    """Run scikit-learn's epochs on ``theta`` (updated in place); return the parameters to keep.

    ``X``, ``Y`` live on the network's device; ``y_labels`` / ``Y_host`` are the host targets
    (labels and binarized) that scikit-learn's validation split and score use.
    """
    p = net.placement
    xp, adapter, dev = p.xp, p.backend, p.device
    kernels = dict(adapter.kernels)
    if not incremental or not hasattr(est, "_optimizer"):
        est._optimizer = make_optimizer(est)
        est._opt_state = est._optimizer.init(theta, xp)
    opt, state = est._optimizer, est._opt_state
    if est.early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")
    early_stopping = est.early_stopping
    if early_stopping:
        stratify = Y_host if is_classifier(est) and est.n_outputs_ == 1 else None
        train, val = train_test_split(np.arange(X.shape[0]), random_state=est._random_state,
                                      test_size=est.validation_fraction, stratify=stratify)
        if val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        train_d, val_d = adapter.from_numpy(train, dev), adapter.from_numpy(val, dev)
        X_val, y_val = xp.take(X, val_d, axis=0), y_labels[val]
        X, Y = xp.take(X, train_d, axis=0), xp.take(Y, train_d, axis=0)
    n = int(X.shape[0])
    if est.batch_size == "auto":
        batch_size = min(200, n)
    else:
        if est.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
        batch_size = int(np.clip(est.batch_size, 1, n))

    sample_idx = np.arange(n, dtype=np.int64)
    try:
        est.n_iter_ = 0
        for _ in range(est.max_iter):
            if est.shuffle:
                sample_idx = shuffle(sample_idx, random_state=est._random_state)
                order = adapter.from_numpy(sample_idx, dev)
            batch_losses, sizes = [], []
            for s in gen_batches(n, batch_size):
                if est.shuffle:
                    idx = order[s.start:s.stop]
                    Xb, Yb = xp.take(X, idx, axis=0), xp.take(Y, idx, axis=0)
                else:
                    Xb, Yb = X[s.start:s.stop, ...], Y[s.start:s.stop, ...]
                nb = s.stop - s.start
                _set_alpha(l2, est.alpha, nb)
                loss, g = net.loss_and_grad(Xb, Yb, theta, training=True)
                opt.update(theta, g, state, xp, kernels=kernels)
                batch_losses.append(loss)
                sizes.append(nb)
            values = adapter.to_numpy(xp.stack(batch_losses)).astype(np.float64)
            est.n_iter_ += 1
            est.loss_ = float(np.dot(values, np.asarray(sizes, dtype=np.float64)) / n)
            est.t_ += n
            est.loss_curve_.append(est.loss_)
            if est.verbose:
                print("Iteration %d, loss = %.8f" % (est.n_iter_, est.loss_))
            if not math.isfinite(est.loss_):
                break  # the weights are not finite either: fit raises scikit-learn's error
            if early_stopping:
                net.params = theta
                _update_no_improvement(est, est._validation_score(net, X_val, y_val), theta, xp)
            else:
                _update_no_improvement(est, None, theta, xp)
            if est.solver == "sgd" and est.learning_rate == "invscaling":
                opt.learning_rate = float(est.learning_rate_init) / (est.t_ + 1) ** est.power_t
            if est._no_improvement_count > est.n_iter_no_change:
                what = ("Validation score did not improve more than tol=%f for %d consecutive epochs."
                        if early_stopping else
                        "Training loss did not improve more than tol=%f for %d consecutive epochs.")
                if _trigger_stopping(est, opt, what % (est.tol, est.n_iter_no_change)):
                    break
                est._no_improvement_count = 0
            if incremental:
                break
            if est.n_iter_ == est.max_iter:
                warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization "
                              "hasn't converged yet." % est.max_iter, ConvergenceWarning)
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")
    if early_stopping:
        return est._best_theta
    return theta


def _update_no_improvement(est: Any, val_score: float | None, theta: Any, xp: Any) -> None:
    """scikit-learn's ``_update_no_improvement_count``."""
    if val_score is not None:
        est.validation_scores_.append(val_score)
        if est.verbose:
            print("Validation score: %f" % val_score)
        if val_score < est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if val_score > est.best_validation_score_:
            est.best_validation_score_ = val_score
            est._best_theta = xp.asarray(theta, copy=True)
        return
    if est.loss_curve_[-1] > est.best_loss_ - est.tol:
        est._no_improvement_count += 1
    else:
        est._no_improvement_count = 0
    if est.loss_curve_[-1] < est.best_loss_:
        est.best_loss_ = est.loss_curve_[-1]


def _trigger_stopping(est: Any, opt: optimizers.Optimizer, msg: str) -> bool:
    """scikit-learn's ``trigger_stopping``: stop, or (sgd, adaptive) divide the learning rate by 5."""
    if est.solver != "sgd" or est.learning_rate != "adaptive":
        if est.verbose:
            print(msg + " Stopping.")
        return True
    if opt.learning_rate <= 1e-6:
        if est.verbose:
            print(msg + " Learning rate too small. Stopping.")
        return True
    opt.learning_rate = opt.learning_rate / 5.0
    if est.verbose:
        print(msg + " Setting learning rate to %f" % opt.learning_rate)
    return False


def fit_lbfgs(est: Any, net: an.Sequential, theta: Any, X: Any, Y: Any, l2: regularizers.L2 | None) -> Any:
    """Minimize the full-batch loss with L-BFGS-B through anynet's scipy adapter; return the parameters."""
    _set_alpha(l2, est.alpha, int(X.shape[0]))
    net.params = theta
    res = an.optimize.minimize(net, X, Y, method="L-BFGS-B",
                               options={"maxfun": int(est.max_fun), "maxiter": int(est.max_iter),
                                        "gtol": float(est.tol)},
                               verbose=1 if est.verbose else 0)
    est.n_iter_ = _check_optimize_result("lbfgs", res, est.max_iter)
    est.loss_ = float(res.fun)
    # scikit-learn keeps no curve for L-BFGS; anynet's adapter records one, so we offer it.
    est.loss_curve_ = [float(v) for v in res.history["loss"]]
    est.best_loss_ = min(est.loss_curve_, default=est.loss_)
    return net.params
