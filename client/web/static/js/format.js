// One way to show money, dates, times and fee periods on every page, whatever the PC's
// locale: 12,345.60 / 2025-03-15 / 2025-03-15 08:30:00 / 2025年03月.

export const ITEM_LABELS = {
  pension: "养老保险",
  medical: "医疗保险",
  unemployment: "失业保险",
  injury: "工伤保险",
  maternity: "生育保险",
};

// Amounts arrive as exact decimal strings ("8538.00"); they are formatted as text so no
// float rounding ever touches them.
export function money(value) {
  if (value === null || value === undefined || value === "") return "";
  const text = String(value).trim();
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) return text;
  const [, sign, whole, frac = ""] = match;
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${grouped}.${(frac + "00").slice(0, Math.max(2, frac.length))}`;
}

// A count: 12,345 (grouped like amounts, whatever the PC's locale).
export function count(value) {
  if (value === null || value === undefined || value === "") return "";
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// "2025-03-15T08:30:00.123" or "2025-03-15 08:30:00" -> "2025-03-15 08:30:00"
export function dateTime(value) {
  if (!value) return "";
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?/.exec(String(value));
  return match ? `${match[1]} ${match[2]}${match[3] || ":00"}` : String(value);
}

export function date(value) {
  if (!value) return "";
  const match = /^(\d{4}-\d{2}-\d{2})/.exec(String(value));
  return match ? match[1] : String(value);
}

// A fee period or effective month "202503" (or "2025-03") -> "2025年03月"
export function period(value) {
  if (!value) return "";
  const match = /^(\d{4})-?(\d{2})$/.exec(String(value));
  return match ? `${match[1]}年${match[2]}月` : String(value);
}
