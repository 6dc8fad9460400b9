"""LangGraph's ``langgraph.managed``: state keys the engine fills in for each task."""

from orca.graph import IsLastStep, RemainingSteps

__all__ = ["IsLastStep", "RemainingSteps"]
