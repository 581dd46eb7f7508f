"""oncop layer."""
