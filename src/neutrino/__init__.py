"""neutrino: distributed virtual routing for Linux clouds, in the design of Neutron DVR."""

__version__ = "0.1.0"
