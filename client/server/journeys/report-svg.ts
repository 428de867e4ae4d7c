/**
 * The journey report's funnel as an SVG: a bar for those who entered, each step reached, and the
 * goal. `rapport report --svg` writes it to a file; the console shows it on the journey's page.
 */
import type { JourneyReport } from './report';

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function funnelSvg(r: JourneyReport): string {
  const rows: { label: string; n: number; depth: number }[] = [
    { label: 'entered', n: r.entered, depth: 0 },
    ...r.steps.map((s) => ({ label: s.id, n: s.reached, depth: s.depth })),
    ...(r.goal ? [{ label: `goal: ${r.goal.event}`, n: r.goal.met, depth: 0 }] : []),
  ];
  const rowHeight = 28;
  const labelWidth = 220;
  const barWidth = 420;
  const width = labelWidth + barWidth + 80;
  const height = rows.length * rowHeight + 40;
  const title = `${r.journey}${r.version === null ? '' : ` v${r.version}`}`;
  // Said in words too, for a screen reader: each row and its count.
  const description = rows.map((row) => `${row.label}: ${row.n}`).join(', ');
  const bars = rows.map((row, i) => {
    const y = 30 + i * rowHeight;
    const w = r.entered > 0 ? Math.max(1, Math.round((barWidth * row.n) / r.entered)) : 1;
    return [
      `<text x="${8 + row.depth * 14}" y="${y + 15}">${escapeXml(row.label)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${w}" height="${rowHeight - 8}" fill="#3b6ea8"/>`,
      `<text x="${labelWidth + w + 6}" y="${y + 15}">${row.n}</text>`,
    ].join('');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13" role="img" aria-labelledby="funnel-title funnel-desc">`,
    `<title id="funnel-title">Funnel of ${escapeXml(title)}</title>`,
    `<desc id="funnel-desc">${escapeXml(description)}</desc>`,
    `<text x="8" y="18" font-weight="bold">${escapeXml(title)}</text>`,
    ...bars,
    '</svg>',
  ].join('\n');
}
