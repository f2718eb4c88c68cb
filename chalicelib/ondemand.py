"""On-demand variants: hand out signed URLs, and answer them with the stored variant.

`GET /v/{signature}/{image_id}/{options}` is public (the signature is the
authorization, as imgproxy's and Thumbor's secure URLs): the signature, then
the options against the stage's limits, then the record (COMPLETE, not deleted). The variant is looked
up under its key (variants.variant_key); the first request renders it from the
smallest stored rendition of the whole picture at ≥ 2× the needed scale, or the
source, and stores it with a conditional write, so two first requests store one
object. Every answer is a redirect to the stored object (the CDN's URL, or a
presigned GET): the bytes never pass through Lambda, whose synchronous response
is at most 6 MB.

Options, signatures and keys are chalicelib/variants.py's; pixels are
chalicelib/imaging/variant.py's, imported only by the render function.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.config import Settings
from chalicelib.errors import ImageNotFoundError
from chalicelib.render import Render, VariantRenderer, complete_record
from chalicelib.renditions import CONTENT_TYPES
from chalicelib.secrets import CachedSecret
from chalicelib.status import DynamoStatusStore
from chalicelib.storage import S3Storage
from chalicelib.uploads import check_image_id
from chalicelib.urls import cdn_url
from chalicelib.variants import (
    check_output,
    concrete,
    resolve,
    source_version,
    variant_key,
    variant_path,
    verify,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

# How long a browser or CDN may keep the redirect itself. The stored object's
# key changes with the source's version; a redirect kept longer than this could
# point at a deleted image's object (which answers 403/404 then).
REDIRECT_MAX_AGE = 3600


class VariantsDisabledError(ImageNotFoundError):
    """This stage has no variant secret (VARIANT_SECRET_ARN): no URL can be signed or checked."""


class VariantSecret(CachedSecret):
    """The stage's variant signing secret (VARIANT_SECRET_ARN); none: variants are off."""

    def __init__(self, secrets_client: "SecretsManagerClient | None", arn: str) -> None:
        super().__init__(secrets_client, arn,
                         lambda: VariantsDisabledError("On-demand variants are not enabled on this stage."))


@dataclass(frozen=True)
class Redirect:
    location: str
    headers: dict[str, str]
    rendered: bool  # this request rendered and stored the variant


class VariantService:
    def __init__(
        self, settings: Settings, storage: S3Storage, store: DynamoStatusStore, secret: Callable[[], bytes],
        avif_supported: Callable[[], bool] = lambda: False, render: Render | None = None,
    ) -> None:
        self.settings, self.storage, self.store, self.secret = settings, storage, store, secret
        self._avif_supported = avif_supported
        # The render function (chalicelib/render.py), or the same renderer in this process.
        self._render = render or VariantRenderer(settings, storage, store).render
        self.renders = 0  # first renders asked for by this process (the local stack's tests count them)

    def signed_url(self, record: dict, segment: str, base_url: str) -> dict:
        """`{"url", "options"}` for an image the caller may see; the options are checked
        against the stage's limits first, so every URL handed out is one the route accepts."""
        resolve(segment, self.settings.variant_limits)
        path = variant_path(self.secret(), record["image_id"], segment)
        base = f"https://{self.settings.cdn_domain}" if self.settings.cdn_domain else base_url
        return {"url": f"{base}{path}", "options": segment}

    def answer(self, signature: str, image_id: str, segment: str, accept: str | None) -> Redirect:
        """The redirect to the stored variant, rendering and storing it first if needed."""
        check_image_id(image_id)
        limits = self.settings.variant_limits
        # The signature first (as imgproxy): unsigned requests learn nothing, cost one HMAC.
        verify(self.secret(), signature, image_id, segment)
        options = resolve(segment, limits)
        record = complete_record(self.store, image_id)
        source = record["source"]
        check_output(options, (int(source["width"]), int(source["height"])), limits)
        wanted = concrete(options, accept, self._avif_supported())
        key = variant_key(image_id, source_version(source["etag"]), wanted)
        rendered = False
        if not self.storage.output_exists(key):
            self.renders += 1
            rendered = self._render(image_id, source_version(source["etag"]), wanted)
        # Which request rendered: the local stack's tests and a curl count renders by it.
        headers = {"Cache-Control": self._cache_control(), "X-Imgpipe-Variant": "rendered" if rendered else "stored"}
        if options.format == "auto":
            headers["Vary"] = "Accept"
        return Redirect(self._url(key, wanted.format, source["etag"]), headers, rendered)

    def _url(self, key: str, fmt: str, etag: str) -> str:
        if self.settings.cdn_domain:
            return cdn_url(self.settings.cdn_domain, key, source_version(etag))
        return self.storage.presign_download(key, CONTENT_TYPES[fmt], self.settings.download_url_ttl)

    def _cache_control(self) -> str:
        if self.settings.cdn_domain:
            return f"public, max-age={REDIRECT_MAX_AGE}"
        # A presigned URL expires: the redirect to it must not outlive it.
        return f"public, max-age={min(REDIRECT_MAX_AGE, self.settings.download_url_ttl // 2)}"

