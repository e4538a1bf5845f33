"""Image arrays: decoding, colour and JPEG encoding, folder indexing, packing and downsampling.

Decoding never imports the synthetic universe: FITS cubes and the renderer share the stretch of
`encode`, which needs neither GalSim nor the population.
"""

from .decode import ImageError, decode_image, fits_to_rgb, read_local_image
from .downsampling import downsample
from .encode import asinh_rgb, jpeg_of
from .folder import index_image_folder
from .pack import load_packed, pack_cutouts, pack_images, pack_images_to

__all__ = [
    "ImageError",
    "asinh_rgb",
    "decode_image",
    "downsample",
    "fits_to_rgb",
    "index_image_folder",
    "jpeg_of",
    "load_packed",
    "pack_cutouts",
    "pack_images",
    "pack_images_to",
    "read_local_image",
]
