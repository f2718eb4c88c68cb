"""What process_image returns (SourceInfo, EncodedRendition, Placeholder, ProcessedImage),
and `stage`, which names the step that failed when Pillow raises something unexpected
and words every refusal for a person.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from chalicelib.errors import ImageProcessingError, ImgpipeError
from chalicelib.imaging.messages import human
from chalicelib.renditions import CONTENT_TYPES


@dataclass(frozen=True)
class Placeholder:
    blurhash: str
    dominant_color: str  # "#rrggbb"


@dataclass(frozen=True)
class SourceInfo:
    format: str
    width: int
    height: int
    frames: int = 1  # > 1 for an animated GIF, WebP or PNG (APNG)


@dataclass(frozen=True)
class EncodedRendition:
    name: str
    format: str
    width: int
    height: int
    data: bytes
    frames: int = 1  # > 1 when the animation was kept
    # Index (in ProcessedImage.renditions) of an earlier rendition with the same
    # bytes: store that one object once and point this entry at its key.
    same_as: int | None = None

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


@dataclass(frozen=True)
class ProcessedImage:
    source: SourceInfo
    renditions: list[EncodedRendition]
    placeholder: Placeholder | None = field(default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Turn anything but a domain error (or MemoryError, which a retry with
    more room may survive) into ImageProcessingError("{name} failed."); a
    domain error's message keeps no Python spelling (messages.human)."""
    try:
        yield
    except ImgpipeError as exc:
        exc.message = human(exc.message)
        exc.args = (exc.message,)
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise ImageProcessingError(name) from exc
