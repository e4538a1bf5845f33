"""galaxy_cnn: the library behind the Wu & Boada (2019) reproduction workflow.

Every rule's script is a thin wrapper around one function here, so the science can be
imported, unit-tested and reused outside Snakemake (e.g. `galaxy_cnn.apply`).
"""

__version__ = "0.1.0"
