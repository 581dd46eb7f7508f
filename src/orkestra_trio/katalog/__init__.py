"""katalog layer."""
