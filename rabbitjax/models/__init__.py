"""Flax Linen models: pure `init`/`apply`, called as `model.apply(variables, x, train=...)`."""

from rabbitjax.models.classifiers import MLP, CifarCNN, MnistCNN, parameter_count
from rabbitjax.models.layers import Layers, reference_layers
from rabbitjax.models.polynomial import PolynomialRegression, polynomial_coefficients
from rabbitjax.models.rnn import BinaryAdder, SimpleRNN

__all__ = [
    "MLP",
    "BinaryAdder",
    "CifarCNN",
    "Layers",
    "MnistCNN",
    "PolynomialRegression",
    "SimpleRNN",
    "parameter_count",
    "polynomial_coefficients",
    "reference_layers",
]
