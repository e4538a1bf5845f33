"""The catalog's columns, as SkyServer's SQL returns them and the synthetic universe writes them.

Standard library only: the Snakefile imports it to check the config before any job runs.
"""

CATALOG_COLUMNS = [
    "objID", "specObjID", "ra", "dec", "z", "zErr",
    "modelMag_u", "modelMag_g", "modelMag_r", "modelMag_i", "modelMag_z",
    "petroMag_r", "petroR50_r", "petroR90_r",
    "oh_p16", "oh_p50", "oh_p84", "lgm_tot_p50", "sfr_tot_p50", "bptclass",
]  # fmt: skip
