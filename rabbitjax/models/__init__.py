"""Flax Linen models: pure `init`/`apply`, called as `model.apply(variables, x, train=...)`."""

from rabbitjax.models.polynomial import PolynomialRegression, polynomial_coefficients
from rabbitjax.models.rnn import BinaryAdder, SimpleRNN

__all__ = ["BinaryAdder", "PolynomialRegression", "SimpleRNN", "polynomial_coefficients"]
