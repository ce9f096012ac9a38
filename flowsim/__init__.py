"""flowsim: a discrete-event microsimulation of England's families at risk of multiple problems."""

__version__ = "0.1.0"
