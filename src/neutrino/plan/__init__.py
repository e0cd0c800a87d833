"""The pure planner: a host's view of the cloud in, its complete desired state out."""

from .host import plan_host
from .memo import PlanMemo
from .state import HostState

__all__ = ["HostState", "PlanMemo", "plan_host"]
