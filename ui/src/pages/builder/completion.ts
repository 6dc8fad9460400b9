// State-variable completion for prompt templates: typing `{{` (then part of a name) offers
// the state keys; choosing one writes `{{key}}` in place of what was typed.

export interface CompletionContext {
  /** Where the `{{` starts. */
  start: number;
  /** What was typed after `{{` (trimmed of leading spaces). */
  prefix: string;
}

const NAME_CHARS = /^[A-Za-z0-9_.]*$/;

/** The open `{{...` the caret is in (null: none). */
export function completionAt(text: string, caret: number): CompletionContext | null {
  const before = text.slice(0, caret);
  const open = before.lastIndexOf("{{");
  if (open < 0) return null;
  const typed = before.slice(open + 2);
  if (typed.includes("}}")) return null;
  const prefix = typed.trimStart();
  if (!NAME_CHARS.test(prefix)) return null;
  return { start: open, prefix };
}

/** The keys that start with `prefix` (case-insensitively) first, then those that contain it. */
export function suggestions(keys: readonly string[], prefix: string): string[] {
  const p = prefix.toLowerCase();
  const head = keys.filter((k) => k.toLowerCase().startsWith(p));
  const rest = keys.filter((k) => !k.toLowerCase().startsWith(p) && k.toLowerCase().includes(p));
  return [...head, ...rest];
}

/** `text` with the open `{{prefix` at the caret replaced by `{{key}}` (an existing `}}`
 * right after the caret is reused), and the caret after it. */
export function applyCompletion(text: string, caret: number, ctx: CompletionContext, key: string): { text: string; caret: number } {
  let after = text.slice(caret);
  // a name typed on past the caret belongs to the variable being completed
  const tail = /^[A-Za-z0-9_.]*\s*\}\}/.exec(after);
  if (tail) after = after.slice(tail[0].length);
  const inserted = `{{${key}}}`;
  return { text: text.slice(0, ctx.start) + inserted + after, caret: ctx.start + inserted.length };
}

/** The `{{variables}}` a template uses (their root keys), in order, once each. */
export function templateVariables(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\{\{\s*([A-Za-z][A-Za-z0-9_]*)[^}]*\}\}/g)) {
    if (m[1] && !out.includes(m[1])) out.push(m[1]);
  }
  return out;
}
