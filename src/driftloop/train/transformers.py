"""Small transformers the model zoo needs and scikit-learn lacks."""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import TruncatedSVD

__all__ = ["CappedSVD"]


class CappedSVD(TransformerMixin, BaseEstimator):
    """TruncatedSVD whose ``n_components`` shrinks to fit a small vocabulary.

    A configured 64 components must not fail a cycle whose window happens to hold a
    vocabulary of 40 terms; the component count used is ``min(n_components,
    n_features - 1)`` (at least 1).
    """

    def __init__(self, n_components: int = 64, random_state: int | None = 0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X, y=None):
        k = max(1, min(self.n_components, X.shape[1] - 1))
        self.svd_ = TruncatedSVD(n_components=k, random_state=self.random_state).fit(X)
        self.n_components_ = k
        return self

    def transform(self, X):
        return self.svd_.transform(X)

    def get_feature_names_out(self, input_features=None):
        return [f"svd{i}" for i in range(self.n_components_)]
