"""vpcctl: build AWS network topologies in ordered, idempotent steps, wait until
they serve, show them, and remove every trace of them again."""

__version__ = "0.1.0"
