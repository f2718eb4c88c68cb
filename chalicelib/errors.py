"""Domain errors, each with a stable reason code.

The code is what clients, records and metrics see; the message is for people.
Nothing here knows about HTTP: routes map these to status codes.
"""


class ImgpipeError(Exception):
    """Base of every domain error; `code` is stable, `message` is human."""

    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ImageRejectedError(ImgpipeError):
    """The bytes will never become an image: the record ends FAILED, no retry."""


class EmptyFileError(ImageRejectedError):
    code = "empty_file"


class FileTooLargeError(ImageRejectedError):
    code = "file_too_large"


class UnsupportedFormatError(ImageRejectedError):
    code = "unsupported_format"


class CorruptImageError(ImageRejectedError):
    code = "corrupt_image"


class TooManyPixelsError(ImageRejectedError):
    code = "too_many_pixels"


class ImageProcessingError(ImageRejectedError):
    """Pillow raised something unexpected while decoding, resizing or encoding.

    The same bytes would raise again on every retry, so the record ends
    FAILED at once; `stage` names the step, the cause goes to the log.
    """

    code = "internal_error"

    def __init__(self, stage: str) -> None:
        super().__init__(f"{stage} failed.")
        self.stage = stage


class InvalidRequestError(ImgpipeError):
    """A client sent something malformed (HTTP 400)."""

    code = "bad_request"


class PayloadTooLargeError(InvalidRequestError):
    code = "file_too_large"


class BodyTooLargeError(PayloadTooLargeError):
    code = "body_too_large"


class UnsupportedMediaTypeError(InvalidRequestError):
    code = "unsupported_media_type"


class ImageNotFoundError(ImgpipeError):
    code = "not_found"


class VariantForbiddenError(ImgpipeError):
    """A variant URL whose signature does not sign its image and options (HTTP 403)."""

    code = "forbidden"


class QuotaExceededError(ImgpipeError):
    """A user has used up today's uploads or bytes (chalicelib/quotas.py): 429."""

    code = "quota_exceeded"


class ImageConflictError(ImgpipeError):
    """The image is not in a state that allows the change (e.g. still processing)."""

    code = "conflict"


class ConfigError(ImgpipeError):
    """An environment variable is missing or malformed."""

    code = "config_error"


class ImageBusyError(ImgpipeError):
    """Another invocation holds a live lease on this image; retry later.

    Raised so Lambda retries the event: by then the holder has finished, or
    its lease has expired and this invocation takes over.
    """

    code = "busy"


class RenderBusyError(ImgpipeError):
    """Every variant render slot is taken (the render function's reserved concurrency): 503, try again."""

    code = "busy"


class SourceChangedError(ImgpipeError):
    """The object was replaced while we worked; its own event will process it."""

    code = "source_changed"


class ImageDeletedError(ImgpipeError):
    """The image was deleted through the API: a late upload for it is discarded."""

    code = "deleted"
