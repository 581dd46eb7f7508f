"""apiserver layer."""
