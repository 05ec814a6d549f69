"""Datasets as device arrays: tfds datasets read offline, and synthetic data made from PRNG keys."""

from rabbitjax.data.binary_addition import binary_addition, little_endian_bits
from rabbitjax.data.datasets import (
    DATA_DIR_ENV,
    SUPPORTED_DATASETS,
    DatasetUnavailableError,
    is_prepared,
    load_split,
    num_classes,
    resolve_data_dir,
)
from rabbitjax.data.synthetic import LOGIC_GATES, logic_gate, polynomial_regression
from rabbitjax.data.types import Dataset, num_examples, split, take

__all__ = [
    "LOGIC_GATES",
    "logic_gate",
    "split",
    "binary_addition",
    "little_endian_bits",
    "DATA_DIR_ENV",
    "SUPPORTED_DATASETS",
    "Dataset",
    "DatasetUnavailableError",
    "is_prepared",
    "load_split",
    "num_classes",
    "num_examples",
    "polynomial_regression",
    "resolve_data_dir",
    "take",
]
