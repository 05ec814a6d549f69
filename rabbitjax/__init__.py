"""rabbitjax: the 'deep learning day 4' exercises as functional JAX/Flax."""

__version__ = "0.1.0"
