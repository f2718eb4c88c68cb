"""Every environment variable imgpipe reads, parsed once into frozen Settings.

Nothing else in the code reads `os.environ`; a bad value fails at cold start
with a message naming the variable, not halfway through an image.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.errors import ConfigError
from chalicelib.renditions import RenditionSpec, parse_output_formats, parse_renditions
from chalicelib.variants import VariantLimits, parse_presets, parse_widths

DEFAULT_RENDITIONS = "thumb:320x320:cover,medium:1024x1024,large:2048x2048"
DEFAULT_OUTPUT_FORMATS = "auto,webp"


@dataclass(frozen=True)
class Settings:
    input_bucket: str
    output_bucket: str
    status_table: str
    resize_width: int = 800
    resize_height: int = 600
    renditions: tuple[RenditionSpec, ...] = parse_renditions(DEFAULT_RENDITIONS)
    output_formats: tuple[str, ...] = parse_output_formats(DEFAULT_OUTPUT_FORMATS)
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 100_000_000
    upload_url_ttl: int = 900
    download_url_ttl: int = 3600
    allowed_origins: tuple[str, ...] = ()
    lease_seconds: int = 90
    max_attempts: int = 3
    region: str = "us-east-1"
    # The resize function PATCH /images/{id} invokes asynchronously; empty: re-renders are off.
    resize_function: str = ""
    # CloudFront domain in front of the output bucket; empty = presigned GET URLs (urls.py).
    cdn_domain: str = ""
    cdn_distribution_id: str = ""  # its CloudFront distribution: a DELETE invalidates the image there
    event_bus_name: str = ""  # empty: no EventBridge events
    webhook_secret_arn: str = ""  # empty: webhooks cannot be signed, so none is sent
    unsafe_local_webhooks: bool = False
    # "legacy" while a table's records get their shard attributes (imgpipe migrate-indexes):
    # lists and the sweeper read the unsharded indexes until then (docs/DATA-MODEL.md).
    status_reads: str = "sharded"
    # On-demand variants (chalicelib/variants.py): empty ARN, the /v/ route answers 404.
    variant_secret_arn: str = ""
    # The function that renders a variant's first request, invoked synchronously by the /v/ route
    # (its own memory; the API function never loads Pillow); empty: render in this process.
    render_function: str = ""
    variant_limits: VariantLimits = VariantLimits()
    # Members of this Cognito group (the token's cognito:groups), or holders of ADMIN_SCOPE, see every image.
    admin_group: str = "imgpipe-admins"
    admin_scope: str = ""
    # Where the upload page signs in: a Cognito domain (https://…amazoncognito.com, OAuth code + PKCE)
    # or a path on the API itself (the local stack's issuer, /local-auth); empty: the page asks for nothing.
    # Per user (owner) and UTC day, counted at POST /uploads (chalicelib/quotas.py); 0: no limit.
    uploads_per_day: int = 500
    upload_bytes_per_day: int = 5 * 1024**3
    sign_in_url: str = ""
    sign_in_client_id: str = ""


def whole_number(text: str) -> int | None:
    """ASCII digits only: int() also takes '٣', '1_000' and ' +5', and '²'.isdigit() is true."""
    return int(text) if re.fullmatch(r"[0-9]{1,18}", text) else None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = whole_number(raw)
    if value is None:
        raise ConfigError(f"{name}={raw!r} is not a whole number")
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}..{high}")
    return value


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required")
    return value


# A host name (a CloudFront domain or the stage's own alias): no scheme, path or port.
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+")


def _cdn_domain(env: Mapping[str, str]) -> str:
    value = env.get("CDN_DOMAIN", "").strip().lower()
    if value and not _HOST.fullmatch(value):
        raise ConfigError(f"CDN_DOMAIN={value!r} must be a host name like d111111abcdef8.cloudfront.net")
    return value


def _sign_in_url(env: Mapping[str, str]) -> str:
    value = env.get("SIGN_IN_URL", "").strip().rstrip("/")
    if value and not re.fullmatch(r"https://[a-z0-9.-]+|/[a-z0-9-]+", value):
        raise ConfigError(f"SIGN_IN_URL={value!r} must be https://DOMAIN (the user pool's domain) or a path like /local-auth")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower() or "false"
    if value not in ("true", "false"):
        raise ConfigError(f"{name}={value!r} must be true or false")
    return value == "true"


def _avif_supported() -> bool:
    """Asked only by a stage whose OUTPUT_FORMATS ask for avif (codecs finds Pillow's AVIF module, loads no plugin)."""
    from chalicelib.codecs import AVIF_SUPPORTED

    return AVIF_SUPPORTED


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the environment; raises ConfigError naming the variable at fault."""
    env = os.environ if env is None else env
    formats = parse_output_formats(env.get("OUTPUT_FORMATS") or DEFAULT_OUTPUT_FORMATS)
    if "avif" in formats and not _avif_supported():
        raise ConfigError("OUTPUT_FORMATS asks for avif, which this Pillow build cannot write")
    origins = tuple(o.strip() for o in env.get("ALLOWED_ORIGINS", "").split(",") if o.strip())
    return Settings(
        input_bucket=_required(env, "INPUT_BUCKET"),
        output_bucket=_required(env, "OUTPUT_BUCKET"),
        status_table=_required(env, "STATUS_TABLE"),
        resize_width=_int(env, "RESIZE_WIDTH", 800, 1, 8192),
        resize_height=_int(env, "RESIZE_HEIGHT", 600, 1, 8192),
        renditions=parse_renditions(env.get("RENDITIONS", DEFAULT_RENDITIONS)),
        output_formats=formats,
        max_upload_bytes=_int(env, "MAX_UPLOAD_BYTES", 50 * 1024 * 1024, 1, 5 * 1024**3),
        max_pixels=_int(env, "MAX_PIXELS", 100_000_000, 1, 1_000_000_000),
        upload_url_ttl=_int(env, "UPLOAD_URL_TTL", 900, 1, 7 * 24 * 3600),
        download_url_ttl=_int(env, "DOWNLOAD_URL_TTL", 3600, 1, 7 * 24 * 3600),
        allowed_origins=origins,
        lease_seconds=_int(env, "PROCESSING_LEASE_SECONDS", 90, 1, 3600),
        max_attempts=_int(env, "MAX_ATTEMPTS", 3, 1, 100),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        resize_function=env.get("RESIZE_FUNCTION", "").strip(),
        cdn_domain=_cdn_domain(env),
        cdn_distribution_id=env.get("CDN_DISTRIBUTION_ID", "").strip(),
        event_bus_name=env.get("EVENT_BUS_NAME", "").strip(),
        webhook_secret_arn=env.get("WEBHOOK_SECRET_ARN", "").strip(),
        # UNSAFE outside one's own machine: plain-http callbacks and receivers on
        # loopback. Only the `local` stage sets it; unset, every target must be https and public.
        unsafe_local_webhooks=_flag(env, "UNSAFE_LOCAL_WEBHOOKS"),
        status_reads=_status_reads(env),
        variant_secret_arn=env.get("VARIANT_SECRET_ARN", "").strip(),
        render_function=env.get("RENDER_FUNCTION", "").strip(),
        variant_limits=_variant_limits(env),
        admin_group=env.get("ADMIN_GROUP", "imgpipe-admins").strip(),
        admin_scope=env.get("ADMIN_SCOPE", "").strip(),
        uploads_per_day=_int(env, "UPLOADS_PER_DAY", 500, 0, 10_000_000),
        upload_bytes_per_day=_int(env, "UPLOAD_BYTES_PER_DAY", 5 * 1024**3, 0, 10 * 1024**4),
        sign_in_url=_sign_in_url(env),
        sign_in_client_id=env.get("SIGN_IN_CLIENT_ID", "").strip(),
    )


def _variant_limits(env: Mapping[str, str]) -> VariantLimits:
    """VARIANT_MAX_PIXELS, VARIANT_MAX_DPR, VARIANT_WIDTHS, VARIANT_PRESETS, VARIANT_STRICT."""
    dpr = env.get("VARIANT_MAX_DPR", "").strip() or "3"
    if not re.fullmatch(r"[1-3](\.[0-9])?", dpr) or float(dpr) > 3:
        raise ConfigError(f"VARIANT_MAX_DPR={dpr!r} must be a number from 1 to 3, such as 2 or 2.5")
    return VariantLimits(
        max_pixels=_int(env, "VARIANT_MAX_PIXELS", 16_000_000, 1, 100_000_000),
        max_dpr=float(dpr),
        widths=parse_widths(env.get("VARIANT_WIDTHS", "")),
        presets=parse_presets(env.get("VARIANT_PRESETS", "")),
        strict=_flag(env, "VARIANT_STRICT"),
    )


def _status_reads(env: Mapping[str, str]) -> str:
    value = env.get("STATUS_READS", "").strip().lower() or "sharded"
    if value not in ("sharded", "legacy"):
        raise ConfigError(f"STATUS_READS={value!r} must be sharded or legacy")
    return value


AUTH_MODES = ("api_key", "cognito", "iam", "none")


def auth_mode() -> str:
    """AUTH: what guards every route but GET / and GET /health.

    Unset means api_key, so a deployed stage is never open by accident; only
    `none` (set explicitly, as the local stage does) leaves the API open.
    Read when app.py is imported, like the bucket below: it shapes the API.
    """
    value = os.environ.get("AUTH", "").strip().lower() or "api_key"
    if value not in AUTH_MODES:
        raise ConfigError(f"AUTH={value!r} must be one of {', '.join(AUTH_MODES)}")
    return value


def cognito_user_pool_arn() -> str:
    """COGNITO_USER_POOL_ARN: the pool whose tokens AUTH=cognito accepts."""
    return _required(os.environ, "COGNITO_USER_POOL_ARN")


def input_bucket_name() -> str:
    """For @app.on_s3_event, which needs the name when app.py is imported.

    `chalice deploy` sets the stage's environment variables before importing
    app.py, and so does Lambda, so this is the deployed stage's bucket.
    """
    return _required(os.environ, "INPUT_BUCKET")


def resize_bound_by_template() -> bool:
    """True when a deployment template, not Chalice, attaches the S3 event.

    `chalice package` for CloudFormation refuses `@app.on_s3_event`; the `cfn`
    stage sets RESIZE_TRIGGER=template, app.py then registers resize_image as
    a plain Lambda function and infra's merge template subscribes it to the
    input bucket. Unset (every other stage), Chalice wires the event itself.
    """
    value = os.environ.get("RESIZE_TRIGGER", "s3_event").strip() or "s3_event"
    if value not in ("s3_event", "template"):
        raise ConfigError(f"RESIZE_TRIGGER={value!r} must be s3_event or template")
    return value == "template"


def tracing_enabled() -> bool:
    """TRACING=true: the stage turned X-Ray on (infra/stages.json `tracing`, set by each deploy path).

    Off (the default), app.py never imports Powertools' Tracer nor aws-xray-sdk.
    """
    return _flag(os.environ, "TRACING")
