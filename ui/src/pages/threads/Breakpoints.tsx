import type { Breakpoints } from "./actions";

interface Props {
  nodes: string[];
  value: Breakpoints;
  onChange: (b: Breakpoints) => void;
}

/** Breakpoints for the next run started from this page: pause before or after nodes. */
export function BreakpointPicker({ nodes, value, onChange }: Props) {
  const toggle = (side: keyof Breakpoints, node: string, on: boolean) => {
    const rest = value[side].filter((n) => n !== node);
    onChange({ ...value, [side]: on ? [...rest, node] : rest });
  };
  if (!nodes.length) return null;
  return (
    <div className="row breakpoints">
      {(["before", "after"] as const).map((side) => (
        <fieldset key={side}>
          <legend>Pause {side}</legend>
          {nodes.map((n) => (
            <label key={n} className="check">
              <input
                type="checkbox"
                checked={value[side].includes(n)}
                onChange={(e) => toggle(side, n, e.target.checked)}
              />
              {n}
            </label>
          ))}
        </fieldset>
      ))}
    </div>
  );
}
