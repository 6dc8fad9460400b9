"""Map-reduce with ``Send``, written the way LangGraph's map-reduce how-to writes it.

It runs on LangGraph as it stands; on Orca, only the ``langgraph`` imports change to
``orca.compat.langgraph`` (tests/compat/test_examples.py runs it both ways and compares).
"""

import operator
from typing import Annotated

from langchain_core.messages import AIMessage, BaseMessage
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from pydantic import BaseModel
from typing_extensions import TypedDict

try:
    from examples.from_langgraph.scripted_model import ScriptedChatModel
except ImportError:  # run as a script from this folder
    from scripted_model import ScriptedChatModel  # type: ignore[no-redef]

subjects_prompt = (
    "Generate a list of 3 sub-topics that are all related to this overall topic: {topic}."
)
joke_prompt = "Generate a joke about {subject}"
best_joke_prompt = (
    "Below are a bunch of jokes about {topic}. Select the best one! Return the ID of the "
    "best one, starting 0 as the ID for the first joke. Jokes: \n\n  {jokes}"
)


class Subjects(BaseModel):
    subjects: list[str]


class Joke(BaseModel):
    joke: str


class BestJoke(BaseModel):
    id: int


def script(messages: list[BaseMessage]) -> AIMessage:
    """The model's structured answers: subjects, a joke per subject, the best joke's id."""
    prompt = str(messages[-1].content)
    if prompt.startswith("Generate a list"):
        name, args = "Subjects", {"subjects": ["lions", "owls", "otters"]}
    elif prompt.startswith("Generate a joke about "):
        subject = prompt.removeprefix("Generate a joke about ")
        name, args = "Joke", {"joke": f"Why did the {subject} cross the road? To be {subject}."}
    else:
        longest = max(enumerate(prompt.split("\n\n  ")[1].split("\n\n")), key=lambda j: len(j[1]))
        name, args = "BestJoke", {"id": longest[0]}
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{name}"}])


model = ScriptedChatModel(script=script)


class OverallState(TypedDict):
    topic: str
    subjects: list
    jokes: Annotated[list, operator.add]
    best_selected_joke: str


class JokeState(TypedDict):
    subject: str


def generate_topics(state: OverallState):
    prompt = subjects_prompt.format(topic=state["topic"])
    response = model.with_structured_output(Subjects).invoke(prompt)
    return {"subjects": response.subjects}


def generate_joke(state: JokeState):
    prompt = joke_prompt.format(subject=state["subject"])
    response = model.with_structured_output(Joke).invoke(prompt)
    return {"jokes": [response.joke]}


def continue_to_jokes(state: OverallState):
    return [Send("generate_joke", {"subject": s}) for s in state["subjects"]]


def best_joke(state: OverallState):
    jokes = "\n\n".join(state["jokes"])
    prompt = best_joke_prompt.format(topic=state["topic"], jokes=jokes)
    response = model.with_structured_output(BestJoke).invoke(prompt)
    return {"best_selected_joke": state["jokes"][response.id]}


graph = StateGraph(OverallState)
graph.add_node("generate_topics", generate_topics)
graph.add_node("generate_joke", generate_joke)
graph.add_node("best_joke", best_joke)
graph.add_edge(START, "generate_topics")
graph.add_conditional_edges("generate_topics", continue_to_jokes, ["generate_joke"])
graph.add_edge("generate_joke", "best_joke")
graph.add_edge("best_joke", END)
app = graph.compile()


def main() -> None:
    for step in app.stream({"topic": "animals"}, stream_mode="values"):
        print(sorted(step), step.get("jokes", []))
    print(app.invoke({"topic": "animals"})["best_selected_joke"])


if __name__ == "__main__":
    main()
