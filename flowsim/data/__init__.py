"""Data shipped with flowsim: the 2012 councils (see README.md here)."""
