"""scikit-learn estimators trained by anynet on any array library (needs scikit-learn).

- :class:`MLPClassifier`, :class:`MLPRegressor`: scikit-learn's multi-layer perceptrons
  (same parameters, defaults, fitted attributes and training steps), whose passes run on
  NumPy, CuPy, PyTorch or array-api-strict.
- :class:`AnynetClassifier`, :class:`AnynetRegressor`: wrap any function that returns a
  compiled anynet model, so functional and convolutional networks sit in pipelines and
  ``GridSearchCV`` (routed parameters ``model__units=...``, as SciKeras does for Keras).

``import anynet`` never imports this package; ``import anynet.sklearn`` needs
``pip install 'anynet-nn[sklearn]'``.
"""

from __future__ import annotations

try:
    import sklearn  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError("anynet.sklearn needs scikit-learn: pip install 'anynet-nn[sklearn]'") from exc

from anynet.sklearn._mlp import MLPClassifier, MLPRegressor
from anynet.sklearn._wrappers import AnynetClassifier, AnynetRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "AnynetClassifier", "AnynetRegressor"]
