"""Outside references: ALS and BPR from the ``implicit`` package (an optional extra).

``implicit`` (Ben Frederickson's library, a well-kept C++/Cython implementation) is not a
course dependency: install it with ``pip install "textrec[baselines]"`` (or
``pip install implicit``). :func:`implicit_available` says whether it is there; the
harness and the notebook skip these models when it is not.

* :class:`ImplicitALS`: weighted matrix factorisation for implicit feedback (Hu, Koren and
  Volinsky, 2008), confidence ``1 + alpha * x``, solved by alternating least squares;
* :class:`ImplicitBPR`: Bayesian personalised ranking (Rendle et al., 2009), SGD on pairs.

Both follow the harness interface: ``fit(X)`` on the binary matrix [n users, n items], then
``score(history)`` = user factors @ item factors^T for the same users (the history itself is
not read: the user factors already encode it). ``threads=1`` by default: with several threads
BPR's updates race and reruns differ.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def implicit_available() -> bool:
    """Whether the optional ``implicit`` package can be imported."""
    try:
        import implicit  # noqa: F401
    except ImportError:
        return False
    return True


def _require_implicit():
    if not implicit_available():
        raise ImportError("the ALS/BPR references need the optional 'implicit' package: "
                          "pip install 'textrec[baselines]' (or pip install implicit)")


def _to_numpy(factors) -> np.ndarray:
    return np.asarray(factors.to_numpy() if hasattr(factors, "to_numpy") else factors,
                      dtype=np.float32)


class _ImplicitFactorModel:
    """Shared fit/score around an ``implicit`` model class."""

    name = "implicit"
    GRID: dict = {}

    def __init__(self, seed: int = 42, threads: int = 1, **params):
        self.seed = seed
        self.threads = threads
        self._params = params
        self.user_factors = None
        self.item_factors = None

    def params(self) -> dict:
        return dict(self._params)

    def _model(self):
        raise NotImplementedError

    def fit(self, interactions) -> "_ImplicitFactorModel":
        """Factors from the binary ``interactions`` [n users, n items]."""
        _require_implicit()
        from threadpoolctl import threadpool_limits

        matrix = sp.csr_matrix(interactions, dtype=np.float32, copy=True)
        matrix.data[:] = 1.0
        # implicit runs its own threads; a multi-threaded BLAS underneath only slows it down.
        with threadpool_limits(1, "blas"):
            model = self._model()
            model.fit(matrix, show_progress=False)
        self.user_factors = _to_numpy(model.user_factors)
        self.item_factors = _to_numpy(model.item_factors)
        return self

    def score(self, history) -> np.ndarray:
        """User factors @ item factors^T: float32 [n users, n items]."""
        if self.user_factors is None:
            raise ValueError(f"{self.name} is not fitted yet: call fit(interactions) first")
        if history.shape[0] != len(self.user_factors):
            raise ValueError(f"history has {history.shape[0]} users; the model was fitted on "
                             f"{len(self.user_factors)}")
        return self.user_factors @ self.item_factors.T


class ImplicitALS(_ImplicitFactorModel):
    """``implicit.als.AlternatingLeastSquares`` (factors, regularization, alpha, iterations)."""

    name = "ALS (implicit)"
    GRID = {"factors": [16, 32, 64], "regularization": [1.0, 10.0, 100.0], "alpha": [5.0, 20.0]}

    def __init__(self, factors: int = 32, regularization: float = 10.0, alpha: float = 5.0,
                 iterations: int = 15, seed: int = 42, threads: int = 1):
        super().__init__(seed, threads, factors=factors, regularization=regularization,
                         alpha=alpha, iterations=iterations)

    def _model(self):
        from implicit.als import AlternatingLeastSquares

        return AlternatingLeastSquares(**self._params, random_state=self.seed,
                                       num_threads=self.threads)


class ImplicitBPR(_ImplicitFactorModel):
    """``implicit.bpr.BayesianPersonalizedRanking`` (factors, learning_rate, regularization,
    iterations)."""

    name = "BPR (implicit)"
    GRID = {"factors": [32, 64], "learning_rate": [0.01, 0.05], "regularization": [0.01, 0.1],
            "iterations": [300, 1000]}

    def __init__(self, factors: int = 64, learning_rate: float = 0.01,
                 regularization: float = 0.1, iterations: int = 300, seed: int = 42,
                 threads: int = 1):
        super().__init__(seed, threads, factors=factors, learning_rate=learning_rate,
                         regularization=regularization, iterations=iterations)

    def _model(self):
        from implicit.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(**self._params, random_state=self.seed,
                                           num_threads=self.threads)
