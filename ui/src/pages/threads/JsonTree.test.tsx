import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { diffMarks, diffValues } from "./diff";
import { JsonTree } from "./JsonTree";
import { CHILD_PAGE, STRING_LIMIT } from "./treeRows";

const STATE = { plan: { parts: ["history", "cost"], depth: 1 }, topic: "orcas", words: 12 };

function names() {
  return screen.getAllByRole("treeitem").map((el) => el.textContent);
}

describe("JsonTree", () => {
  it("is a tree of treeitems with levels, open at the top level only", () => {
    render(<JsonTree value={STATE} label="State" />);
    const tree = screen.getByRole("tree", { name: "State" });
    const items = within(tree).getAllByRole("treeitem");
    expect(items.map((el) => el.getAttribute("aria-level"))).toEqual(["1", "2", "2", "1", "1"]);
    expect(names()).toEqual(["▾plan: {2 keys}", "▸parts: [2 items]", "depth: 1", 'topic: "orcas"', "words: 12"]);
    expect(items[0]).toHaveAttribute("aria-expanded", "true");
    expect(items[1]).toHaveAttribute("aria-expanded", "false");
    expect(items[2]).not.toHaveAttribute("aria-expanded");
    // one tab stop
    expect(items.filter((el) => el.tabIndex === 0)).toHaveLength(1);
  });

  it("moves, opens and closes with the arrow keys, Home and End", async () => {
    const user = userEvent.setup();
    render(<JsonTree value={STATE} label="State" />);
    await user.tab();
    expect(document.activeElement).toHaveTextContent("plan");
    await user.keyboard("{ArrowDown}");
    expect(document.activeElement).toHaveTextContent("parts");
    await user.keyboard("{ArrowRight}"); // opens
    expect(document.activeElement).toHaveAttribute("aria-expanded", "true");
    await user.keyboard("{ArrowRight}"); // to the first child
    expect(document.activeElement).toHaveTextContent('0: "history"');
    expect(document.activeElement).toHaveAttribute("aria-level", "3");
    await user.keyboard("{ArrowLeft}"); // a leaf: to its parent
    expect(document.activeElement).toHaveTextContent("parts");
    await user.keyboard("{ArrowLeft}"); // closes
    expect(document.activeElement).toHaveAttribute("aria-expanded", "false");
    expect(names()).not.toContain('0: "history"');
    await user.keyboard("{End}");
    expect(document.activeElement).toHaveTextContent("words: 12");
    await user.keyboard("{ArrowDown}"); // stays at the end
    expect(document.activeElement).toHaveTextContent("words: 12");
    await user.keyboard("{Home}{Enter}"); // Enter toggles: plan closes
    expect(document.activeElement).toHaveAttribute("aria-expanded", "false");
    expect(names()).toHaveLength(3);
    await user.keyboard("{ArrowUp}");
    expect(document.activeElement).toHaveTextContent("plan");
  });

  it("shows large arrays and strings in part, with a show more row", async () => {
    const user = userEvent.setup();
    const long = "x".repeat(STRING_LIMIT + 40);
    render(<JsonTree value={{ items: Array.from({ length: CHILD_PAGE + 7 }, (_, i) => i), text: long }} label="Big" />);
    expect(screen.getAllByRole("treeitem")).toHaveLength(1 + CHILD_PAGE + 1 + 2);
    const more = screen.getByRole("treeitem", { name: /show more \(7 of 57 not shown\)/ });
    await user.click(more);
    expect(screen.getAllByRole("treeitem")).toHaveLength(1 + CHILD_PAGE + 7 + 2);
    const textRow = screen.getByRole("treeitem", { name: /^text:/ });
    expect(textRow.textContent).toHaveLength(`text: "${"x".repeat(STRING_LIMIT)}…"`.length);
    const showAll = screen.getByRole("treeitem", { name: /show more \(all 200 characters\)/ });
    showAll.focus();
    await user.keyboard("{Enter}");
    expect(textRow).toHaveTextContent(`"${long}"`);
    expect(screen.getByRole("treeitem", { name: "show less" })).toBeInTheDocument();
  });

  it("highlights a diff's changes with words, opening the branches that hold them", () => {
    const after = { ...STATE, plan: { ...STATE.plan, parts: ["history", "cost", "risk"] }, verdict: "ok" };
    const marks = diffMarks(diffValues(STATE, after), "after");
    render(<JsonTree value={after} label="After" marks={marks} />);
    expect(screen.getByRole("treeitem", { name: /^2: "risk", added$/ })).toHaveClass("jt-mark-added");
    expect(screen.getByRole("treeitem", { name: /^parts: \[3 items\], has changes$/ })).toHaveAttribute("aria-expanded", "true");
    expect(screen.getByRole("treeitem", { name: /verdict: "ok", added/ })).toBeInTheDocument();
    expect(screen.getByRole("treeitem", { name: /^topic/ })).not.toHaveClass("jt-mark-added");
  });

  it("shows hostile keys and values as text", () => {
    const value = JSON.parse('{"__proto__": {"polluted": 1}, "<img src=x onerror=alert(1)>": "<script>alert(2)</script>", "a\\"b": null}') as unknown;
    const { container } = render(<JsonTree value={value} label="Hostile" depth={2} />);
    expect(container.querySelector("img, script")).toBeNull();
    expect(screen.getByRole("treeitem", { name: '<img src=x onerror=alert(1)>: "<script>alert(2)</script>"' })).toBeInTheDocument();
    expect(screen.getByRole("treeitem", { name: "polluted: 1" })).toHaveAttribute("aria-level", "2");
    expect(screen.getByRole("treeitem", { name: 'a"b: null' })).toBeInTheDocument();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
