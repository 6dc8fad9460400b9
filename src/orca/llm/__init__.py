"""LLM calls: one ``ChatModel`` protocol, providers, profiles, and metered calls from nodes.

Nodes call models through ``ctx.planner``, ``ctx.worker`` or ``ctx.llm(name)``: each call
streams ``token`` events, is priced, and is reported as a ``usage`` event. Outside a run,
``make_model(provider, model)`` gives a ``ChatModel`` to call directly.
"""

from orca.llm._base import ChatModel, ChatStream, ProviderModel
from orca.llm._bound import LLM
from orca.llm._meter import Meter, Models
from orca.llm._profiles import ModelSpec, Profile, Profiles
from orca.llm._registry import make_model, provider_names
from orca.llm._types import (
    ChatRequest,
    ChatResponse,
    Delta,
    ImagePart,
    Message,
    StopReason,
    TextPart,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = [
    "LLM",
    "ChatModel",
    "ChatRequest",
    "ChatResponse",
    "ChatStream",
    "Delta",
    "ImagePart",
    "Message",
    "Meter",
    "ModelSpec",
    "Models",
    "Profile",
    "Profiles",
    "ProviderModel",
    "StopReason",
    "TextPart",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "make_model",
    "provider_names",
]
