import { DRAG_TYPE } from "./Canvas";
import { KIND_INFO } from "./flowModel";
import { KINDS, type Kind } from "./types";

/** The node library: drag a kind onto the canvas, or focus it and press Enter to add it. */
export function Palette({ onAdd }: { onAdd: (kind: Kind) => void }) {
  return (
    <nav className="palette" aria-label="Node library">
      <h2>Node library</h2>
      <p className="hint">Drag onto the canvas, or press Enter to add.</p>
      <ul>
        {KINDS.map((kind) => (
          <li key={kind}>
            <button
              type="button"
              className={`palette-item kind-${kind}`}
              draggable
              data-kind={kind}
              aria-describedby={`palette-desc-${kind}`}
              onDragStart={(e) => {
                e.dataTransfer.setData(DRAG_TYPE, kind);
                e.dataTransfer.setData("text/plain", kind);
                e.dataTransfer.effectAllowed = "move";
              }}
              onClick={() => onAdd(kind)}
            >
              <span className="palette-kind">{kind}</span> {KIND_INFO[kind].label}
            </button>
            <span id={`palette-desc-${kind}`} className="hint palette-desc">
              {KIND_INFO[kind].description}
            </span>
          </li>
        ))}
      </ul>
    </nav>
  );
}
