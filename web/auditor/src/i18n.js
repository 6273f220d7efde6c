// The page's text in English and Simplified Chinese: one catalogue per language, the same keys
// in each (the build refuses a catalogue with missing or extra keys). The server renders the
// page in the language the browser asks for; the switch changes it here and remembers it.
import en from "../messages/en.json";
import zhCN from "../messages/zh-CN.json";

const CATALOGUES = { en, "zh-CN": zhCN };
const PREFERENCE = "provledger.language";
const listeners = [];

let current = CATALOGUES[document.documentElement.lang] ? document.documentElement.lang : "en";

/** The text of `key` in the current language, `{name}` replaced from `params`. */
export function t(key, params = {}) {
  const text = CATALOGUES[current][key] ?? CATALOGUES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export function language() {
  return current;
}

/** Call `render` again whenever the language changes (for text made by scripts). */
export function onLanguageChange(render) {
  listeners.push(render);
}

/** Text marked in the HTML: `data-i18n` (its text) and `data-i18n-label` (its aria-label). */
export function translate(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nLabel));
  }
}

export function setLanguage(next, { remember = true } = {}) {
  if (!CATALOGUES[next]) return;
  current = next;
  document.documentElement.lang = next;
  if (remember) {
    try {
      localStorage.setItem(PREFERENCE, next);
    } catch {
      // Storage may be off; the switch still works for this page.
    }
  }
  translate();
  for (const button of document.querySelectorAll("button[data-language]")) {
    button.setAttribute("aria-pressed", String(button.dataset.language === next));
  }
  for (const render of listeners) render();
}

/** The language remembered from an earlier switch, if any. */
export function rememberedLanguage() {
  try {
    const stored = localStorage.getItem(PREFERENCE);
    return CATALOGUES[stored] ? stored : null;
  } catch {
    return null;
  }
}

/** A block time (Unix seconds) as UTC, in the current language's format. */
export function formatTime(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const date = new Date(Number(seconds) * 1000);
  const shown = new Intl.DateTimeFormat(current, {
    dateStyle: "medium",
    timeStyle: "medium",
    timeZone: "UTC",
  }).format(date);
  return `${shown} UTC`;
}

export function formatNumber(value) {
  return new Intl.NumberFormat(current).format(value);
}

export function formatBytes(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 ? 0 : 1;
  return `${new Intl.NumberFormat(current, { maximumFractionDigits: digits }).format(value)} ${units[unit]}`;
}
