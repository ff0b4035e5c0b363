"""hromada-edge: the node runtime every role shares, and the hub."""

__version__ = "0.1.0"
