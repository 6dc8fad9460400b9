"""Human-in-the-loop approval with ``interrupt`` and ``Command``, written the way
LangGraph's human-in-the-loop guide writes it.

It runs on LangGraph as it stands; on Orca, only the ``langgraph`` imports change to
``orca.compat.langgraph`` (tests/compat/test_examples.py runs it both ways and compares).
"""

from typing import Literal

from langchain_core.messages import AIMessage, BaseMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

try:
    from examples.from_langgraph.scripted_model import ScriptedChatModel
except ImportError:  # run as a script from this folder
    from scripted_model import ScriptedChatModel  # type: ignore[no-redef]


def script(messages: list[BaseMessage]) -> AIMessage:
    request = str(messages[-1].content).removeprefix("Write a one-line email: ")
    return AIMessage(content=f"Hello team, {request}. Best, Ada")


llm = ScriptedChatModel(script=script)


class State(TypedDict):
    request: str
    draft: str
    status: str


def write_draft(state: State):
    reply = llm.invoke(f"Write a one-line email: {state['request']}")
    return {"draft": reply.content}


def human_review(state: State) -> Command[Literal["send", "discard"]]:
    decision = interrupt({"question": "Send this email?", "draft": state["draft"]})
    if decision["action"] == "approve":
        return Command(goto="send")
    if decision["action"] == "edit":
        return Command(goto="send", update={"draft": decision["draft"]})
    return Command(goto="discard")


def send(state: State):
    return {"status": f"sent: {state['draft']}"}


def discard(state: State):
    return {"status": "discarded"}


builder = StateGraph(State)
builder.add_node("write_draft", write_draft)
builder.add_node("human_review", human_review)
builder.add_node("send", send)
builder.add_node("discard", discard)
builder.add_edge(START, "write_draft")
builder.add_edge("write_draft", "human_review")
builder.add_edge("send", END)
builder.add_edge("discard", END)
graph = builder.compile(checkpointer=InMemorySaver())


def main() -> None:
    decisions = {
        "a": {"action": "approve"},
        "b": {"action": "edit", "draft": "Hello team, the launch moved to Friday. Ada"},
        "c": {"action": "reject"},
    }
    for thread, decision in decisions.items():
        config = {"configurable": {"thread_id": thread}}
        paused = graph.invoke({"request": "the launch moved to Friday"}, config=config)
        print(thread, [i.value for i in paused["__interrupt__"]])
        print(thread, graph.get_state(config).next)
        done = graph.invoke(Command(resume=decision), config=config)
        print(thread, done["status"])


if __name__ == "__main__":
    main()
