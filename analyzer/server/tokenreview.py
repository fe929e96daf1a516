"""Kubernetes TokenReview: asks the API server whether a bearer token is a live service-account token.

One ``POST /apis/authentication.k8s.io/v1/tokenreviews`` per token not seen in the last
``cache_seconds`` (answers are kept by the token's SHA-256, never the token; refusals for a tenth of
that, so that a rotated-in token is not refused for long); the service's own account needs ``create``
on ``tokenreviews`` (the chart grants it with ``auth.tokenReview.enabled``). A token deleted or expired
in the cluster stops working within ``cache_seconds``.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from analyzer.errors import ClusterError
from analyzer.grants import TokenReviewSettings
from analyzer.server.expiring import Expiring, digest

if TYPE_CHECKING:
    from analyzer.rollouts import Kube

#: Answers kept at most (the oldest go first).
MAX_CACHED = 10_000
#: Seconds a TokenReview may take: well inside Argo's 10 s web timeout.
REVIEW_TIMEOUT_SECONDS = 3.0


class TokenReviewer:
    """The user the API server says a token authenticates (``system:serviceaccount:NS:NAME``), or None."""

    def __init__(self, settings: TokenReviewSettings, kube: Callable[[], Kube],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._kube_factory = kube
        self._authentication: Any = None
        self._lock = threading.Lock()
        self._answers: Expiring[str | None] = Expiring(MAX_CACHED, clock)

    def username(self, token: str) -> str | None:
        """The authenticated username; None when the API server does not vouch for the token (or for the
        configured audiences). :class:`ClusterError` when it cannot be asked."""
        key = digest(token)
        kept = self._answers.get(key)
        if kept is not None:
            return kept[0]
        user = self._review(token)
        ttl = self.settings.cache_seconds if user is not None else self.settings.cache_seconds / 10
        self._answers.keep(key, user, ttl)
        return user

    def _review(self, token: str) -> str | None:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        spec: dict[str, Any] = {"token": token}
        if self.settings.audiences:
            spec["audiences"] = list(self.settings.audiences)
        body: Any = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}  # sent as is
        try:
            review = self._api().create_token_review(body, _request_timeout=REVIEW_TIMEOUT_SECONDS)
        except ApiException as error:
            raise ClusterError(f"the Kubernetes API refused a TokenReview: HTTP {error.status} {error.reason}"
                               " (the service account needs create on tokenreviews)") from None
        except HTTPError as error:
            raise ClusterError(f"the Kubernetes API did not answer a TokenReview: {type(error).__name__}") from None
        status = review.status
        if status is None or not status.authenticated or status.user is None:
            return None
        if self.settings.audiences and not set(status.audiences or []) & set(self.settings.audiences):
            return None
        return str(status.user.username or "") or None

    def _api(self) -> Any:
        """The authentication API on the Kube's credentials, without urllib3's retries: an API server that is
        gone fails the look at once (503, which Argo retries) instead of after seconds of backoff."""
        from kubernetes import client

        with self._lock:
            if self._authentication is None:
                configuration = copy.copy(self._kube_factory().api.configuration)
                configuration.retries = 0
                self._authentication = client.AuthenticationV1Api(client.ApiClient(configuration))
            return self._authentication
