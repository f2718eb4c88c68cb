"""Deleted means gone from the CDN: invalidate a deleted image's renditions on the stage's
CloudFront distribution (CDN_DISTRIBUTION_ID; empty: no CDN, nothing to do).

Renditions and on-demand variants are cached for up to a year (infra's immutable cache
policy): without an invalidation the CDN would serve a deleted image's until then. A
variant's /v/ redirect may stay cached for its max-age (an hour), but it then leads to
an invalidated, deleted object: nothing is served. The API
function may invalidate that one distribution and no other (deploy/policies.py).
"""

import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient

log = logging.getLogger(__name__)


def invalidation_paths(keys: list[str]) -> list[str]:
    """CloudFront paths of object keys: URL-encoded as the viewer asks for them (urls.py quotes the same way)."""
    return sorted({"/" + quote(key, safe="/") for key in keys})


class CdnInvalidator:
    """Invalidates a deleted image's paths on the stage's one distribution (none: does nothing)."""

    def __init__(self, client: "CloudFrontClient | None", distribution_id: str) -> None:
        self._client = client
        self.distribution_id = distribution_id

    def invalidate(self, keys: list[str], image_id: str, now: float | None = None) -> str | None:
        """Ask CloudFront to drop `keys`; the invalidation id, or None (no CDN, no keys, or a failure:
        logged, the delete stands and the objects expire from the CDN on their own).

        Exact paths only: CloudFront runs at most 15 wildcard paths at once per distribution
        (3,000 exact ones), so a burst of deletes with a wildcard each would fail."""
        if self._client is None or not self.distribution_id or not keys:
            return None
        now = time.time() if now is None else now
        paths = invalidation_paths(keys)
        try:
            answer = self._client.create_invalidation(
                DistributionId=self.distribution_id,
                InvalidationBatch={"Paths": {"Quantity": len(paths), "Items": paths},
                                   "CallerReference": f"delete-{image_id}-{int(now * 1000)}"},
            )
        except Exception:
            log.exception("could not invalidate image %s on the CDN %s", image_id, self.distribution_id)
            return None
        return answer["Invalidation"]["Id"]
