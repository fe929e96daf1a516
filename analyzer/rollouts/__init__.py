"""Argo Rollouts over the Kubernetes API (the official ``kubernetes`` client): read, list and act."""

from analyzer.rollouts.client import Kube
from analyzer.rollouts.status import RolloutStatus, read_status

__all__ = ["Kube", "RolloutStatus", "read_status"]
