export type Theme = "light" | "dark" | "system";
const KEY = "orca.theme";

export function storedTheme(): Theme {
  const t = window.localStorage.getItem(KEY);
  return t === "light" || t === "dark" ? t : "system";
}

export function applyTheme(theme: Theme): void {
  if (theme === "system") {
    document.documentElement.removeAttribute("data-theme");
    window.localStorage.removeItem(KEY);
  } else {
    document.documentElement.setAttribute("data-theme", theme);
    window.localStorage.setItem(KEY, theme);
  }
}
