/** CSV for spreadsheets: RFC 4180 quoting, and a BOM so Excel reads the Chinese as UTF-8. */

const cell = (v) => {
  const s = v === null || v === undefined ? '' : String(v)
  // A leading = + - @ would be run as a formula by a spreadsheet: prefix it.
  const safe = /^[=+\-@]/.test(s) && !/^-?\d+(\.\d+)?%?$/.test(s) ? "'" + s : s
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}

/** `rows` of arrays (the first the header) as CSV text. */
export function toCsv(rows) {
  return '\uFEFF' + rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n'
}
