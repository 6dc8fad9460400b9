// Checking an edit of a state key before it is sent: the key is one of the workflow's,
// the text is JSON, the body fits the server's limit. Each error names the fix.

/** The server refuses bodies over max_body_bytes (1 MiB by default). */
export const MAX_EDIT_BYTES = 1 << 20;

export type EditCheck =
  | { ok: true; values: Record<string, unknown> }
  | { ok: false; field: "key" | "value"; error: string };

/** The line and column (1-based) of a character offset in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split("\n");
  return { line: lines.length, column: (lines[lines.length - 1] ?? "").length + 1 };
}

/** Where the JSON parser stopped, from its message (engines word it differently). */
function errorOffset(message: string, text: string): number | null {
  const pos = /position (\d+)/.exec(message);
  if (pos) return Number(pos[1]);
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) {
    const lines = text.split("\n").slice(0, Number(lc[1]) - 1);
    return lines.reduce((n, l) => n + l.length + 1, 0) + Number(lc[2]) - 1;
  }
  if (/end of (JSON )?input|Unterminated/i.test(message)) return text.length;
  return null;
}

function hint(text: string): string {
  const t = text.trim();
  if (/^'|:\s*'/.test(t)) return "use double quotes for strings";
  if (/,\s*[}\]]/.test(t)) return "remove the trailing comma";
  if (/^[{,]\s*[A-Za-z_]/.test(t) || /[{,]\s*[A-Za-z_][\w]*\s*:/.test(t)) return "quote the keys with double quotes";
  if (/^[A-Za-z]/.test(t) && !/^(true|false|null)\b/.test(t)) return 'write a text as a JSON string, in double quotes: "like this"';
  return "write one JSON value: a string in double quotes, a number, true, false, null, a list or an object";
}

/**
 * The body values of an edit of `key` to the JSON `text`, or the error to show (its
 * field, what is wrong and the fix). `stateKeys`: the workflow's keys (empty: not known,
 * any key goes and the server checks).
 */
export function checkEdit(key: string, text: string, stateKeys: readonly string[]): EditCheck {
  if (!key) return { ok: false, field: "key", error: "Pick the state key to edit." };
  if (stateKeys.length && !stateKeys.includes(key)) {
    return { ok: false, field: "key", error: `${key} is not a state key of this workflow. Fix: pick one of ${stateKeys.join(", ")}.` };
  }
  if (!text.trim()) return { ok: false, field: "value", error: 'The value is empty. Fix: write a JSON value, e.g. "text", 3, null or [].' };
  if (new TextEncoder().encode(text).length > MAX_EDIT_BYTES) {
    return { ok: false, field: "value", error: "The value is larger than the server takes (1 MiB). Fix: edit a smaller part." };
  }
  try {
    return { ok: true, values: { [key]: JSON.parse(text) as unknown } };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const offset = errorOffset(message, text);
    const where = offset === null ? "" : (({ line, column }) => ` at line ${line}, column ${column}`)(lineColumn(text, offset));
    return { ok: false, field: "value", error: `Not valid JSON${where}. Fix: ${hint(text)}.` };
  }
}

/** What writing to a key with this reducer does, when it does not simply replace it. */
export function reducerNote(reducer: string | undefined): string | null {
  if (!reducer || reducer === "overwrite") return null;
  if (reducer === "append") return "This key appends: the value you write is added to the list (write a list of the items to add).";
  if (reducer === "sum") return "This key sums: the number you write is added to it.";
  return `This key has the reducer ${reducer}: the value you write goes through it.`;
}
