"""The aligned prompt mode: a base model made to answer like an assistant by a fixed prompt alone."""
