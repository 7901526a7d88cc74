"""Golden models of RTRL: the configuration, a float64 reference and the bit-exact integer model."""

from .config import Config, Formats, QFormat

__all__ = ["Config", "Formats", "QFormat"]
