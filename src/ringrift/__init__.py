"""RingRift: rules engine, AI players, game server and operations tooling."""

__version__ = "0.1.0"
