"""A ReAct-style agent with tools, written the way LangGraph's quickstart writes it.

It runs on LangGraph as it stands; on Orca, only the ``langgraph`` imports change to
``orca.compat.langgraph`` (tests/compat/test_examples.py runs it both ways and compares).
"""

import json
from typing import Annotated

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

try:
    from examples.from_langgraph.scripted_model import ScriptedChatModel
except ImportError:  # run as a script from this folder
    from scripted_model import ScriptedChatModel  # type: ignore[no-redef]


class State(TypedDict):
    messages: Annotated[list, add_messages]


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return {"paris": "sunny, 21 C", "oslo": "snow, -3 C"}.get(city.lower(), "unknown")


@tool
def convert(celsius: float) -> str:
    """Celsius to Fahrenheit."""
    return f"{celsius * 9 / 5 + 32:.1f} F"


tools = [get_weather, convert]


def script(messages: list[BaseMessage]) -> AIMessage:
    """What the model would answer: look the weather up, convert it, then answer."""
    results = [m for m in messages if isinstance(m, ToolMessage)]
    question = str(messages[0].content)
    city = "Oslo" if "oslo" in question.lower() else "Paris"
    if not results:
        call = {"name": "get_weather", "args": {"city": city}, "id": "call_1"}
        return AIMessage(content="", tool_calls=[call])
    if len(results) == 1:
        celsius = float(str(results[0].content).split(", ")[1].split()[0])
        call = {"name": "convert", "args": {"celsius": celsius}, "id": "call_2"}
        return AIMessage(content="", tool_calls=[call])
    weather, fahrenheit = results[0].content, results[1].content
    return AIMessage(content=f"In {city} it is {weather} ({fahrenheit}).")


llm = ScriptedChatModel(script=script)
llm_with_tools = llm.bind_tools(tools)


def chatbot(state: State):
    return {"messages": [llm_with_tools.invoke(state["messages"])]}


class BasicToolNode:
    """Runs the tools requested in the last AIMessage."""

    def __init__(self, tools: list) -> None:
        self.tools_by_name = {tool.name: tool for tool in tools}

    def __call__(self, inputs: dict):
        if messages := inputs.get("messages", []):
            message = messages[-1]
        else:
            raise ValueError("No message found in input")
        outputs = []
        for tool_call in message.tool_calls:
            tool_result = self.tools_by_name[tool_call["name"]].invoke(tool_call["args"])
            outputs.append(
                ToolMessage(
                    content=json.dumps(tool_result).strip('"'),
                    name=tool_call["name"],
                    tool_call_id=tool_call["id"],
                )
            )
        return {"messages": outputs}


def route_tools(state: State):
    """Go to the tools when the last message asks for them, else end."""
    if isinstance(state, list):
        ai_message = state[-1]
    elif messages := state.get("messages", []):
        ai_message = messages[-1]
    else:
        raise ValueError(f"No messages found in input state to tool_edge: {state}")
    if hasattr(ai_message, "tool_calls") and len(ai_message.tool_calls) > 0:
        return "tools"
    return END


graph_builder = StateGraph(State)
graph_builder.add_node("chatbot", chatbot)
graph_builder.add_node("tools", BasicToolNode(tools=tools))
graph_builder.add_conditional_edges("chatbot", route_tools, {"tools": "tools", END: END})
graph_builder.add_edge("tools", "chatbot")
graph_builder.add_edge(START, "chatbot")
graph = graph_builder.compile(checkpointer=InMemorySaver())


def main() -> None:
    config = {"configurable": {"thread_id": "1"}}
    question = {"messages": [{"role": "user", "content": "What is the weather in Oslo?"}]}
    for event in graph.stream(question, config, stream_mode="values"):
        last = event["messages"][-1]
        calls = [(c["name"], c["args"]) for c in getattr(last, "tool_calls", [])]
        print(type(last).__name__, repr(last.content), calls)
    snapshot = graph.get_state(config)
    print("next:", snapshot.next, "messages:", len(snapshot.values["messages"]))


if __name__ == "__main__":
    main()
