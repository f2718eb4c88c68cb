"""Which optional codecs this Pillow build has, asked without loading Pillow's
plugins: configuration checks OUTPUT_FORMATS with it, and the imaging code
registers the AVIF plugin by it.
"""

import importlib.util

# Pillow's AVIF extension module is present (found, not imported: only the PIL package loads).
AVIF_SUPPORTED = importlib.util.find_spec("PIL._avif") is not None
