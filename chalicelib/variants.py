"""On-demand variants: their options, the one canonical spelling, URL signatures,
the stage's limits and the key a variant is stored under.

Pure (no AWS, no Pillow): the API and the CLI that hand out signed URLs and the
route that renders them share it, so a URL handed out is a URL accepted.

Options are one path segment, `key_value` parts joined by commas in a fixed
order: `w_640,h_360,fit_cover,g_smart,f_webp,q_70,dpr_2`. Defaults (`fit_fit`,
`g_focus`, `f_auto`, `dpr_1`) are left out, numbers have no leading zeros. Any
other spelling of the same options (`w_0640`, reordered parts, a default
written out) is refused with the canonical spelling in the message: equal
options have one URL, one stored key, and are rendered once.
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, replace

from chalicelib.errors import ConfigError, InvalidRequestError, VariantForbiddenError

FITS = ("fit", "cover", "fill")
GRAVITIES = ("focus", "smart", "centre")
FORMATS = ("auto", "jpeg", "png", "webp", "avif")
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
ORDER = ("w", "h", "fit", "g", "f", "q", "dpr")
MAX_EDGE = 8192  # of the output, after dpr: as RENDITIONS' boxes
MAX_DPR = 3.0
DEFAULT_MAX_PIXELS = 16_000_000
# 24 bytes of HMAC-SHA256 (192 bits, ≥ 128): 32 url-safe base64 characters, no padding,
# so every signature has exactly one spelling.
SIGNATURE_BYTES = 24
SIGNATURE_LENGTH = 32
VARIANTS_PREFIX = "variants/"

_PART = re.compile(r"^([a-z]+)_([a-z0-9.]+)$")
_NUMBER = re.compile(r"^[0-9]{1,9}$")
_DPR = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3})?$")
_PRESET_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_SIGNATURE = re.compile(rf"^[A-Za-z0-9_-]{{{SIGNATURE_LENGTH}}}$")


class VariantOptionsError(InvalidRequestError):
    """Options that are malformed, out of range, not canonical or not allowed here (HTTP 400)."""

    code = "invalid_variant"


@dataclass(frozen=True)
class VariantOptions:
    width: int | None = None
    height: int | None = None
    fit: str = "fit"
    gravity: str = "focus"
    format: str = "auto"
    quality: int | None = None  # None: the encoder's default for the format (encode.py)
    dpr: float = 1.0

    @property
    def box(self) -> tuple[int | None, int | None]:
        """The output box in pixels (dpr applied); None where the side is free."""
        return (_times(self.width, self.dpr), _times(self.height, self.dpr))


def _times(side: int | None, dpr: float) -> int | None:
    return None if side is None else max(1, round(side * dpr))


def _dpr_text(dpr: float) -> str:
    return f"{dpr:.3f}".rstrip("0").rstrip(".")


def canonical(options: VariantOptions) -> str:
    """The one spelling of `options`: fixed order, defaults left out."""
    parts = []
    if options.width is not None:
        parts.append(f"w_{options.width}")
    if options.height is not None:
        parts.append(f"h_{options.height}")
    if options.fit != "fit":
        parts.append(f"fit_{options.fit}")
    if options.gravity != "focus":
        parts.append(f"g_{options.gravity}")
    if options.format != "auto":
        parts.append(f"f_{options.format}")
    if options.quality is not None:
        parts.append(f"q_{options.quality}")
    if options.dpr != 1.0:
        parts.append(f"dpr_{_dpr_text(options.dpr)}")
    return ",".join(parts)


def check_options(options: VariantOptions) -> VariantOptions:
    """Raise VariantOptionsError unless every option is in range and they fit together."""
    if options.width is None and options.height is None:
        raise VariantOptionsError("Give a width (w_…) or a height (h_…), or both.")
    for name, side in (("width", options.width), ("height", options.height)):
        if side is not None and not 1 <= side <= MAX_EDGE:
            raise VariantOptionsError(f"The {name} must be from 1 to {MAX_EDGE} pixels.")
    if options.fit not in FITS:
        raise VariantOptionsError(f"fit must be one of {', '.join(FITS)}.")
    if options.gravity not in GRAVITIES:
        raise VariantOptionsError(f"g (gravity) must be one of {', '.join(GRAVITIES)}.")
    if options.format not in FORMATS:
        raise VariantOptionsError(f"f (format) must be one of {', '.join(FORMATS)}.")
    if options.quality is not None and not 1 <= options.quality <= 100:
        raise VariantOptionsError("q (quality) must be from 1 to 100.")
    if not 1.0 <= options.dpr <= MAX_DPR:
        raise VariantOptionsError(f"dpr must be from 1 to {_dpr_text(MAX_DPR)}.")
    if options.fit != "fit" and (options.width is None or options.height is None):
        raise VariantOptionsError(f"fit_{options.fit} needs both a width and a height.")
    if options.gravity != "focus" and options.fit != "cover":
        raise VariantOptionsError("g (gravity) applies only to fit_cover; leave it out.")
    for name, side in zip(("width", "height"), options.box):
        if side is not None and side > MAX_EDGE:
            raise VariantOptionsError(f"The {name} times dpr must be at most {MAX_EDGE} pixels.")
    return options


def parse_options(text: str) -> VariantOptions:
    """The options a segment spells; raises VariantOptionsError for anything
    malformed, out of range, or not written in its canonical form."""
    if not text:
        raise VariantOptionsError("Give a width (w_…) or a height (h_…), or both.")
    if len(text) > 128:
        raise VariantOptionsError("The options are longer than any valid options can be.")
    seen: dict[str, str] = {}
    for part in text.split(","):
        match = _PART.match(part)
        if not match or match[1] not in ORDER:
            raise VariantOptionsError(
                f"'{part[:40]}' is not an option; options are {', '.join(k + '_…' for k in ORDER)}, "
                "joined by commas.")
        key, value = match[1], match[2]
        if key in seen:
            raise VariantOptionsError(f"The option {key} is given twice.")
        seen[key] = value
    fields: dict = {}
    for key, name in (("w", "width"), ("h", "height"), ("q", "quality")):
        if key in seen:
            if not _NUMBER.match(seen[key]):
                raise VariantOptionsError(f"{key} must be a whole number.")
            fields[name] = int(seen[key])
    for key, name in (("fit", "fit"), ("g", "gravity"), ("f", "format")):
        if key in seen:
            fields[name] = seen[key]
    if "dpr" in seen:
        if not _DPR.match(seen["dpr"]):
            raise VariantOptionsError("dpr must be a number such as 1.5 or 2.")
        fields["dpr"] = float(seen["dpr"])
    options = check_options(VariantOptions(**fields))
    spelled = canonical(options)
    if spelled != text:
        raise VariantOptionsError(f"Write these options as '{spelled}': each set of options has one spelling.")
    return options


def options_from_body(body: object) -> str:
    """The URL segment a `POST /images/{id}/variants` body asks for: a preset's name, or
    options as JSON fields (width, height, fit, gravity, format, quality, dpr), in canonical form."""
    if not isinstance(body, dict):
        raise InvalidRequestError("The body must be a JSON object such as {\"width\": 640, \"format\": \"auto\"}.")
    fields: dict[str, type | tuple[type, ...]] = {
        "width": int, "height": int, "fit": str, "gravity": str, "format": str, "quality": int, "dpr": (int, float)}
    unknown = set(body) - set(fields) - {"preset"}
    if unknown:
        raise InvalidRequestError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    if "preset" in body:
        if len(body) > 1 or not isinstance(body["preset"], str):
            raise InvalidRequestError("Give either a preset's name or options, not both.")
        return body["preset"]
    for name, kind in fields.items():
        value = body.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise VariantOptionsError(f"{name} must be a {'number' if kind is not str else 'string'}.")
    choices = {"fit": FITS, "gravity": GRAVITIES, "format": FORMATS}
    for name, allowed in choices.items():
        if name in body and body[name] not in allowed:
            raise VariantOptionsError(f"{name} must be one of {', '.join(allowed)}.")
    dpr = body.get("dpr")
    dpr = 1.0 if dpr is None else float(dpr) if -10 < dpr < 10 else 0.0  # 1e400 would not be a float
    if round(dpr, 3) != dpr:
        raise VariantOptionsError("dpr may have at most three decimals.")
    options = VariantOptions(
        width=body.get("width"), height=body.get("height"), fit=body.get("fit", "fit"),
        gravity=body.get("gravity", "focus"), format=body.get("format", "auto"),
        quality=body.get("quality"), dpr=dpr,
    )
    return canonical(check_options(options))


@dataclass(frozen=True)
class VariantLimits:
    """What a stage allows (VARIANT_* settings, config.py)."""

    max_pixels: int = DEFAULT_MAX_PIXELS  # of the output, width × height after dpr
    max_dpr: float = MAX_DPR
    widths: tuple[int, ...] = ()  # empty: any width
    presets: tuple[tuple[str, str], ...] = ()  # (name, canonical options)
    strict: bool = False  # only presets

    def preset(self, name: str) -> str | None:
        return dict(self.presets).get(name)


def parse_widths(text: str) -> tuple[int, ...]:
    """VARIANT_WIDTHS: `320,640,1280`."""
    widths = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if not _NUMBER.match(part) or not 1 <= int(part) <= MAX_EDGE:
            raise ConfigError(f"VARIANT_WIDTHS: {part!r} is not a width from 1 to {MAX_EDGE}")
        widths.append(int(part))
    return tuple(sorted(set(widths)))


def parse_presets(text: str) -> tuple[tuple[str, str], ...]:
    """VARIANT_PRESETS: `card=w_640,h_360,fit_cover;hero=w_1600`, each in canonical form."""
    presets: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, options = part.partition("=")
        if not _PRESET_NAME.match(name) or any(name == n for n, _ in presets):
            raise ConfigError(f"VARIANT_PRESETS: {name!r} is not a new name of lower-case letters, digits and -")
        try:
            parse_options(options)
        except VariantOptionsError as exc:
            raise ConfigError(f"VARIANT_PRESETS: {name}: {exc.message}") from None
        presets.append((name, options))
    return tuple(presets)


def resolve(segment: str, limits: VariantLimits) -> VariantOptions:
    """The options a URL's segment names (a preset's name, or options), within the stage's limits."""
    preset = limits.preset(segment)
    if preset is not None:
        return parse_options(preset)  # a preset is within the limits by the operator's choice
    if _PRESET_NAME.match(segment) and "_" not in segment:
        names = ", ".join(n for n, _ in limits.presets) or "none"
        raise VariantOptionsError(f"There is no preset named '{segment}' (this stage's presets: {names}).")
    if limits.strict:
        names = ", ".join(n for n, _ in limits.presets) or "none"
        raise VariantOptionsError(f"This stage renders only its presets: {names}.")
    return check_limits(parse_options(segment), limits)


def check_limits(options: VariantOptions, limits: VariantLimits) -> VariantOptions:
    if options.dpr > limits.max_dpr:
        raise VariantOptionsError(f"dpr must be at most {_dpr_text(limits.max_dpr)} on this stage.")
    if limits.widths and options.width not in limits.widths:
        allowed = ", ".join(map(str, limits.widths))
        raise VariantOptionsError(f"This stage renders only these widths: {allowed}.")
    width, height = options.box
    if width is not None and height is not None and width * height > limits.max_pixels:
        raise VariantOptionsError(
            f"The output would have {width * height} pixels; this stage allows at most {limits.max_pixels}.")
    return options


def output_size(options: VariantOptions, source: tuple[int, int]) -> tuple[int, int]:
    """The variant's size in pixels for an upright source of `source` size (never upscaled)."""
    sw, sh = source
    bw, bh = options.box
    if options.fit == "fit":
        scale = min(1.0, *(b / s for b, s in ((bw, sw), (bh, sh)) if b is not None))
        return max(1, round(sw * scale)), max(1, round(sh * scale))
    assert bw is not None and bh is not None  # check_options: cover and fill have both
    if options.fit == "cover":
        scale = max(bw / sw, bh / sh)
        return (bw, bh) if scale <= 1 else (max(1, round(bw / scale)), max(1, round(bh / scale)))
    shrink = min(1.0, sw / bw, sh / bh)
    return max(1, round(bw * shrink)), max(1, round(bh * shrink))


def check_output(options: VariantOptions, source: tuple[int, int], limits: VariantLimits) -> tuple[int, int]:
    """The output size, refused when over the stage's pixel limit (a free side is known only now)."""
    width, height = output_size(options, source)
    if width * height > limits.max_pixels:
        raise VariantOptionsError(
            f"The output would have {width * height} pixels; this stage allows at most {limits.max_pixels}.")
    return width, height


def source_scale(options: VariantOptions, source: tuple[int, int]) -> float:
    """How many output pixels per source pixel along the axis that shrinks least:
    a stored rendition of the whole picture at ≥ 2× this scale can stand in for the source."""
    width, height = output_size(options, source)
    return max(width / source[0], height / source[1])


# --- auto: the Accept header as one of three classes -------------------------------------


def _accepted(accept: str) -> set[str]:
    """Media types the Accept header takes with q > 0."""
    types = set()
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0 and media:
            types.add(media.lower())
    return types


def format_class(accept: str | None, avif_supported: bool = True) -> str:
    """`auto`'s format for a browser: avif, else webp, else jpeg. Only these three
    (not the raw header) may reach a cache key, so a CDN's hit rate survives."""
    accepted = _accepted(accept or "")
    if avif_supported and "image/avif" in accepted:
        return "avif"
    if "image/webp" in accepted:
        return "webp"
    return "jpeg"


# What CloudFront's /v/* function (infra/terraform/accept-class.js) writes into Accept for each
# class, so the cache key holds only these values and this module reads the class back; and
# `image/avif` alone for a browser without WebP (a stage without AVIF then gives it JPEG).
CLASS_ACCEPT = {"avif": "image/avif,image/webp", "webp": "image/webp", "jpeg": "image/jpeg"}
AVIF_ONLY_ACCEPT = "image/avif"


def concrete(options: VariantOptions, accept: str | None, avif_supported: bool = True) -> VariantOptions:
    """`options` with `auto` replaced by the format this request gets."""
    if options.format != "auto":
        return options
    return replace(options, format=format_class(accept, avif_supported))


def variant_key(image_id: str, version: str, options: VariantOptions) -> str:
    """`variants/{image_id}/{version}/{canonical}.{ext}` of concrete `options`: `auto` and
    the format it resolved to share one object; `version` (of the source) changes when the
    source does, so a re-upload never serves an old picture under the same URL."""
    if options.format == "auto":
        raise ValueError("variant_key needs a concrete format; see concrete()")
    return f"{variants_prefix(image_id)}{version}/{canonical(options)}.{EXTENSIONS[options.format]}"


def variants_prefix(image_id: str) -> str:
    """Every variant of one image, whatever its version: DELETE removes this prefix."""
    return f"{VARIANTS_PREFIX}{image_id}/"


def source_version(etag: str) -> str:
    """A short, path-safe version of a source ETag (multipart ETags hold a `-`)."""
    return hashlib.sha256(etag.encode()).hexdigest()[:12]


# --- signatures --------------------------------------------------------------------------


def sign(secret: bytes, image_id: str, segment: str) -> str:
    """HMAC-SHA256 of `{image_id}/{segment}` with the stage secret, truncated to
    SIGNATURE_BYTES, url-safe base64 without padding."""
    digest = hmac.new(secret, f"{image_id}/{segment}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:SIGNATURE_BYTES]).decode().rstrip("=")


def verify(secret: bytes, signature: str, image_id: str, segment: str) -> None:
    """Raise VariantForbiddenError unless `signature` signs exactly this image and options."""
    expected = sign(secret, image_id, segment)
    # compare_digest on equal-length ASCII: the time taken says nothing about how much matched.
    if not _SIGNATURE.match(signature) or not hmac.compare_digest(expected, signature):
        raise VariantForbiddenError("The signature does not match this image and these options.")


def variant_path(secret: bytes, image_id: str, segment: str) -> str:
    """`/v/{signature}/{image_id}/{segment}`: the path of a signed variant URL."""
    return f"/v/{sign(secret, image_id, segment)}/{image_id}/{segment}"
