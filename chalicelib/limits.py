"""How large a file may be: one rule for the size a client declares at POST /uploads
and for the object the pipeline is about to read (the upload policy alone is not
trusted: moto checks no POST condition, and `aws s3 cp` has none).

Pure: no AWS, no Pillow. The API words the refusal for its client (uploads.py);
these errors are the record's reasons.
"""

from chalicelib.errors import EmptyFileError, FileTooLargeError


def check_size(size: int, limit: int) -> None:
    """Refuse before reading: nothing, or more than `limit` bytes."""
    if size == 0:
        raise EmptyFileError("The file is empty.")
    if size > limit:
        raise FileTooLargeError(f"The file is {size} bytes; the limit is {limit}.")
