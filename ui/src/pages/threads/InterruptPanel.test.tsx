import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { InterruptPanel } from "./InterruptPanel";

describe("InterruptPanel", () => {
  it("answers an interrupt with the JSON written, refusing what is not JSON", async () => {
    const user = userEvent.setup();
    const answers: unknown[] = [];
    render(
      <InterruptPanel
        interrupts={[{ id: "i", node: "ask", task_id: "t", value: { question: "publish?" }, when: "during" }]}
        next={["ask"]}
        onResume={async (a) => answers.push(a)}
      />,
    );
    expect(screen.getByRole("heading", { name: "Waiting for an answer (1)" })).toBeInTheDocument();
    expect(screen.getByRole("treeitem", { name: 'question: "publish?"' })).toBeInTheDocument();
    const box = screen.getByLabelText("Answer (JSON)");
    await user.clear(box);
    await user.type(box, "yes please");
    await user.click(screen.getByRole("button", { name: "Answer and resume" }));
    expect(screen.getByRole("alert")).toHaveTextContent("not JSON");
    expect(box).toHaveAttribute("aria-invalid", "true");
    expect(answers).toEqual([]);
    await user.clear(box);
    await user.type(box, "false");
    await user.click(screen.getByRole("button", { name: "Answer and resume" }));
    expect(answers).toEqual([false]);
  });

  it("continues from a breakpoint, which asks nothing", async () => {
    const user = userEvent.setup();
    const answers: unknown[] = [];
    render(
      <InterruptPanel
        interrupts={[{ id: "b", node: "publish", task_id: "t", value: null, when: "before" }]}
        next={["publish"]}
        onResume={async (a) => answers.push(a)}
      />,
    );
    expect(screen.getByRole("heading", { name: "Paused" })).toBeInTheDocument();
    expect(screen.getByText("Stopped at a breakpoint: before publish.")).toBeInTheDocument();
    expect(screen.queryByLabelText("Answer (JSON)")).toBeNull();
    await user.click(screen.getByRole("button", { name: "Continue the thread" }));
    expect(answers).toEqual([undefined]);
  });

  it("shows nothing for a thread at its end", () => {
    const { container } = render(<InterruptPanel interrupts={[]} next={[]} onResume={async () => null} />);
    expect(container).toBeEmptyDOMElement();
  });
});
