"""A scripted LangChain chat model for the LangGraph examples: the edge of the machine.

It stands where ``ChatOpenAI(model="gpt-4o-mini")`` stands in LangGraph's tutorials, and
reports itself as that model (provider, model name, token usage), so whatever meters
LangChain calls prices it as one. Its answers come from a function of the messages it is
given, so every run of an example prints the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool

Script = Callable[[list[BaseMessage]], AIMessage]


def _words(messages: Sequence[BaseMessage]) -> int:
    return sum(len(str(m.content).split()) + 3 for m in messages)


class ScriptedChatModel(BaseChatModel):
    """Answers with ``script(messages)``; usage counts words as tokens."""

    script: Script
    model_name: str = "gpt-4o-mini"
    max_tokens: int = 256

    @property
    def _llm_type(self) -> str:
        return "scripted-openai"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "max_tokens": self.max_tokens}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "openai"
        params["ls_model_name"] = self.model_name
        params["ls_max_tokens"] = self.max_tokens
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self.script(messages)
        prompt = _words(messages)
        answer = len(str(reply.content).split()) + 10 * len(reply.tool_calls) + 1
        reply = reply.model_copy(
            update={
                "usage_metadata": {
                    "input_tokens": prompt,
                    "output_tokens": answer,
                    "total_tokens": prompt + answer,
                },
                "response_metadata": {"model_name": self.model_name, "finish_reason": "stop"},
            }
        )
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def bind_tools(
        self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        # the script decides which tool to call; the tools' schemas travel as OpenAI's would
        names = [getattr(t, "name", getattr(t, "__name__", "tool")) for t in tools]
        return self.bind(tools=names, **kwargs)
