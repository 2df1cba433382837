// Writes a small, valid one-page lab-report PDF (Helvetica text, correct xref) without any
// PDF library: the e2e test uploads it through the portal and expects these values back.

export const LAB_ROWS = [
  ["Hemoglobin", "13.5", "g/dL", "12.0 - 16.0", ""],
  ["White blood cells", "11.2", "10^9/L", "4.0 - 10.0", "H"],
  ["Platelets", "250", "10^9/L", "150 - 400", ""],
  ["Potassium", "3.2", "mmol/L", "3.5 - 5.1", "L"],
  ["Sodium", "139", "mmol/L", "135 - 145", ""],
];

const esc = (s) => s.replace(/[\\()]/g, (c) => `\\${c}`);

export function labReportPdf(rows = LAB_ROWS) {
  const lines = [
    ["Helvetica-Bold", 14, "CareFlow Clinical Laboratory - Lab Report"],
    ["Helvetica", 10, "Patient: E2E Patient    Collected: 2026-11-20 08:15"],
    ["Helvetica-Bold", 10, "Test    Result    Unit    Reference range    Flag"],
    ...rows.map((r) => ["Helvetica", 10, r.filter(Boolean).join("    ")]),
    ["Helvetica", 8, "Flags: H above range, L below range."],
  ];
  let y = 780;
  const ops = [];
  for (const [font, size, text] of lines) {
    ops.push(`BT /${font === "Helvetica" ? "F1" : "F2"} ${size} Tf 50 ${y} Td (${esc(text)}) Tj ET`);
    y -= size + 10;
  }
  const stream = ops.join("\n");
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>",
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    `<< /Length ${Buffer.byteLength(stream, "latin1")} >>\nstream\n${stream}\nendstream`,
  ];
  let out = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, "latin1"));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, "latin1");
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}
