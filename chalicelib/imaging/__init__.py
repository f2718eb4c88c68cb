"""Pure Pillow: image bytes in, encoded renditions and metadata out (no AWS, no HTTP).

By stage, one way: plan.py (process_image: which outputs, de-duplication) calls
decode.py (bytes to pixels, as browsers show them), colour.py (any mode to
8-bit, the transform to sRGB), resize.py (crops, orientation, the one LANCZOS)
and encode.py (pictures to bytes, animations). decode.py stands on bmp.py (BMP
layouts Pillow lacks), gif.py (the logical screen) and messages.py (refusals in
words, TIFF features named); all stand on geometry.py, pool.py and types.py.
The same code serves Lambda, `make run` and `python -m imgpipe resize`.
"""

from chalicelib.imaging.plan import MAX_ANIMATION_FRAMES, process_image, rendition_outputs
from chalicelib.imaging.types import EncodedRendition, Placeholder, ProcessedImage, SourceInfo

__all__ = [
    "MAX_ANIMATION_FRAMES",
    "EncodedRendition",
    "Placeholder",
    "ProcessedImage",
    "SourceInfo",
    "process_image",
    "rendition_outputs",
]
