// The theme: light, dark, or the system's; the same choice as the nav's Theme button.
import { useState } from "react";
import { applyTheme, storedTheme, type Theme } from "../../components/theme";

export const THEME_EVENT = "orca-theme";

export function ThemeChoice() {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const pick = (t: Theme) => {
    setTheme(t);
    applyTheme(t);
    window.dispatchEvent(new Event(THEME_EVENT));
  };
  return (
    <section aria-labelledby="theme-title">
      <h2 id="theme-title">Theme</h2>
      <fieldset className="checks">
        <legend className="visually-hidden">Theme</legend>
        {(["system", "light", "dark"] as Theme[]).map((t) => (
          <label key={t}>
            <input type="radio" name="theme" value={t} checked={theme === t} onChange={() => pick(t)} />
            {t === "system" ? "Follow the system" : t === "light" ? "Light" : "Dark"}
          </label>
        ))}
      </fieldset>
    </section>
  );
}
