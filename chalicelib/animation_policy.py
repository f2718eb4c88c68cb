"""Which sources are animated, and how an animated WebP is kept within its bound.

Two changes to the policy of animation.py (issue 19, section 3), kept here
until they are wired in:

- APNG is an animation like GIF and animated WebP: `frame_count` counts its
  frames (Pillow's PNG plugin reads acTL without decoding them).
- An animation is given up for its first frame only after lossy WebP was
  tried too: `encode_animated` tries lossless first at the source's size (no
  second generation of loss; smaller than GIF's LZW for flat colour), and
  lossy when that is over the bound, or when the frames were resized.

The bound stays what it was: an animated rendition is never larger than the
source file, so a rendition never costs more bytes than the upload.
"""

import io

from PIL import Image

from chalicelib.imaging.encode import WEBP_QUALITY, encode

# Pillow formats whose files can hold an animation.
ANIMATED_FORMATS = ("GIF", "WEBP", "PNG")
# Effort, as in animation.py: lossy method 2 is within 2% of method 4's bytes at 55% of
# its CPU; lossless method 1 within 2% of method 4's at a third of its CPU.
_LOSSY = {"quality": WEBP_QUALITY, "method": 2}
_LOSSLESS = {"lossless": True, "quality": 50, "method": 1}


def frame_count(image: Image.Image) -> int:
    """Frames of an animated GIF, WebP or PNG (APNG); 1 for everything else
    (an MPO's second frame is the other eye of a stereo pair, not an animation)."""
    if image.format not in ANIMATED_FORMATS or not getattr(image, "is_animated", False):
        return 1
    return image.n_frames


def _animated_webp(frames: list[Image.Image], durations: list[int], loop: int, options: dict) -> bytes:
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], duration=durations, loop=loop,
                   **options)
    return buffer.getvalue()


def encode_animated(
    frames: list[Image.Image], durations: list[int], loop: int, limit: int, resized: bool
) -> tuple[bytes, int]:
    """An animated WebP of at most `limit` bytes and its frame count; or, when
    neither lossless (source size only) nor lossy fits, the first frame as a
    still WebP and 1."""
    attempts = [_LOSSY] if resized else [_LOSSLESS, _LOSSY]
    for options in attempts:
        data = _animated_webp(frames, durations, loop, options)
        if len(data) <= limit:
            return data, len(frames)
    return encode(frames[0], "webp"), 1
