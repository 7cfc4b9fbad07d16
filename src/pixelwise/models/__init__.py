"""The lecture's architectures; importing this package registers every model."""
