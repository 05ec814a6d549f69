"""Flax Linen models: pure `init`/`apply`, called as `model.apply(variables, x, train=...)`."""

from rabbitjax.models.polynomial import PolynomialRegression, polynomial_coefficients

__all__ = ["PolynomialRegression", "polynomial_coefficients"]
