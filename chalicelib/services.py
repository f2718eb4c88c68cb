"""What the handlers use: the settings and the adapters built from them.

Each part is built on first use and kept: once per cold start, and after moto
starts in tests (a client made before it talks to real AWS). The imaging code
(Pillow, its codecs) and the webhook sender are imported by `pipeline` and
`notifier` only: the API function never touches pixels or sends a webhook, and
its cold start is ~100 ms of CPU shorter without them.
"""

import functools
from typing import TYPE_CHECKING

import boto3

from chalicelib.config import Settings, load_settings
from chalicelib.cdn import CdnInvalidator
from chalicelib.invoke import ResizeInvoker
from chalicelib.quotas import DailyUsage
from chalicelib.status import DynamoStatusStore
from chalicelib.storage import S3_CLIENT_CONFIG, S3Storage

if TYPE_CHECKING:
    from chalicelib.notify import Notifier
    from chalicelib.ondemand import VariantService
    from chalicelib.pipeline import ImagePipeline
    from chalicelib.render import VariantRenderer


class Services:
    """One per process. Each part is a getter with `cache_clear` (functools.cache), which
    tests call after changing the environment."""

    def __init__(self) -> None:
        self.settings = functools.cache(self._settings)
        self.storage = functools.cache(self._storage)
        self.status_store = functools.cache(self._status_store)
        self.usage = functools.cache(self._usage)
        self.cdn = functools.cache(self._cdn)
        self.invoker = functools.cache(self._invoker)
        self.notifier = functools.cache(self._notifier)
        self.pipeline = functools.cache(self._pipeline)
        self.variants = functools.cache(self._variants)
        self.renderer = functools.cache(self._renderer)

    def _settings(self) -> Settings:
        return load_settings()

    def _storage(self) -> S3Storage:
        settings = self.settings()
        client = boto3.client("s3", region_name=settings.region, config=S3_CLIENT_CONFIG)
        return S3Storage(client, settings.input_bucket, settings.output_bucket)

    def _status_store(self) -> DynamoStatusStore:
        settings = self.settings()
        table = boto3.resource("dynamodb", region_name=settings.region).Table(settings.status_table)
        return DynamoStatusStore(table, legacy_reads=settings.status_reads == "legacy")

    def _usage(self) -> DailyUsage:
        settings = self.settings()
        table = boto3.resource("dynamodb", region_name=settings.region).Table(settings.status_table)
        return DailyUsage(table, settings.uploads_per_day, settings.upload_bytes_per_day)

    def _cdn(self) -> CdnInvalidator:
        settings = self.settings()
        client = boto3.client("cloudfront", region_name=settings.region) if settings.cdn_distribution_id else None
        return CdnInvalidator(client, settings.cdn_distribution_id)

    def _invoker(self) -> ResizeInvoker:
        settings = self.settings()
        return ResizeInvoker(boto3.client("lambda", region_name=settings.region), settings.resize_function)

    def _notifier(self) -> "Notifier":
        """Events on EVENT_BUS_NAME (none when empty) and webhooks signed with the stage secret,
        read from Secrets Manager on the first delivery and kept for the cold start."""
        from chalicelib.notify import EventPublisher, Notifier, StageSecret, WebhookSender

        settings = self.settings()
        publisher = None
        if settings.event_bus_name:
            events = boto3.client("events", region_name=settings.region)
            publisher = EventPublisher(events, settings.event_bus_name)
        # The client now (clients are made before threads race, see localstack.py), the secret on first use.
        arn = settings.webhook_secret_arn
        secrets = boto3.client("secretsmanager", region_name=settings.region) if arn else None
        secret = StageSecret(secrets, arn)
        return Notifier(self.status_store(), publisher, WebhookSender(secret, settings.unsafe_local_webhooks))

    def _pipeline(self) -> "ImagePipeline":
        from chalicelib.pipeline import ImagePipeline

        return ImagePipeline(self.settings(), self.storage(), self.status_store(), notifier=self.notifier())

    def _variants(self) -> "VariantService":
        """On-demand variants, signed with the stage's secret (VARIANT_SECRET_ARN), read on first use."""
        from chalicelib.ondemand import VariantSecret, VariantService

        settings = self.settings()
        arn = settings.variant_secret_arn
        secrets = boto3.client("secretsmanager", region_name=settings.region) if arn else None
        if not settings.render_function:  # render in this process (tests, a stage without the function)
            render = self.renderer().render
        else:
            from botocore.config import Config

            from chalicelib.render import LambdaRenderer

            # One attempt, answered within the render function's own timeout (14 s): the API
            # function (15 s) answers before API Gateway does, and a throttled render (its reserved
            # concurrency is small) fails at once instead of retrying into the API's timeout.
            once = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=14, connect_timeout=2)
            lambda_client = boto3.client("lambda", region_name=settings.region, config=once)
            render = LambdaRenderer(lambda_client, settings.render_function).render
        return VariantService(settings, self.storage(), self.status_store(), VariantSecret(secrets, arn),
                              avif_supported=_avif_supported, render=render)

    def _renderer(self) -> "VariantRenderer":
        """The render function's part (render_variant): reads the record, a rendition or the source."""
        from chalicelib.render import VariantRenderer

        return VariantRenderer(self.settings(), self.storage(), self.status_store())


def _avif_supported() -> bool:
    from chalicelib.codecs import AVIF_SUPPORTED

    return AVIF_SUPPORTED
