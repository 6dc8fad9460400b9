import { useId, useRef, useState } from "react";
import { applyCompletion, completionAt, suggestions, type CompletionContext } from "./completion";

interface Props {
  label: string;
  value: string;
  onChange: (value: string) => void;
  /** The state variables offered after `{{`. */
  variables: readonly string[];
  field: string;
  rows?: number;
  describedBy?: string;
}

/** A template editor: typing `{{` opens a listbox of the state variables (arrow keys move,
 * Enter or Tab choose, Escape closes), the ARIA 1.2 combobox pattern over a textarea. */
export function PromptEditor({ label, value, onChange, variables, field, rows = 5, describedBy }: Props) {
  const id = useId();
  const listId = `${id}-list`;
  const ref = useRef<HTMLTextAreaElement>(null);
  const [ctx, setCtx] = useState<CompletionContext | null>(null);
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState<number | null>(null);
  const options = ctx && dismissed !== ctx.start ? suggestions(variables, ctx.prefix) : [];
  const open = options.length > 0;
  const activeIndex = Math.min(active, options.length - 1);

  const refresh = (text: string, caret: number) => {
    const next = completionAt(text, caret);
    setCtx(next);
    if (next?.start !== ctx?.start || next?.prefix !== ctx?.prefix) setActive(0);
  };

  const choose = (key: string) => {
    const el = ref.current;
    if (!el || !ctx) return;
    const result = applyCompletion(value, el.selectionStart, ctx, key);
    onChange(result.text);
    setCtx(null);
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(result.caret, result.caret);
    });
  };

  return (
    <div className="prompt-editor">
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        ref={ref}
        data-field={field}
        className="mono"
        rows={rows}
        value={value}
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={open}
        aria-controls={listId}
        aria-activedescendant={open ? `${listId}-${activeIndex}` : undefined}
        aria-describedby={describedBy}
        spellCheck={false}
        onChange={(e) => {
          onChange(e.target.value);
          refresh(e.target.value, e.target.selectionStart);
        }}
        onClick={(e) => refresh(e.currentTarget.value, e.currentTarget.selectionStart)}
        onBlur={() => setCtx(null)}
        onKeyDown={(e) => {
          if (!open) return;
          if (e.key === "ArrowDown") {
            e.preventDefault();
            setActive((activeIndex + 1) % options.length);
          } else if (e.key === "ArrowUp") {
            e.preventDefault();
            setActive((activeIndex - 1 + options.length) % options.length);
          } else if (e.key === "Enter" || e.key === "Tab") {
            const key = options[activeIndex];
            if (key !== undefined) {
              e.preventDefault();
              choose(key);
            }
          } else if (e.key === "Escape") {
            e.preventDefault();
            setDismissed(ctx?.start ?? null);
          }
        }}
      />
      <ul id={listId} role="listbox" aria-label={`State variables for ${label.toLowerCase()}`} className="completion" hidden={!open}>
        {options.map((key, i) => (
          <li
            key={key}
            id={`${listId}-${i}`}
            role="option"
            aria-selected={i === activeIndex}
            // mousedown, not click: the textarea keeps its focus and caret
            onMouseDown={(e) => {
              e.preventDefault();
              choose(key);
            }}
          >
            {`{{${key}}}`}
          </li>
        ))}
      </ul>
    </div>
  );
}
