import type { OutboxEntry } from '../../../activities/channels/outbox';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The outbox as a page a person can read: newest first, each message in full. */
export function outboxPage(entries: OutboxEntry[]): string {
  const items = entries
    .map(
      (e) => `<article>
  <header><strong>${e.channel === 'email' ? esc(e.subject ?? '(no subject)') : 'SMS'}</strong>
  <span>to ${esc(e.to)} · ${esc(e.writtenAt)}${e.channel === 'email' ? ` · <a href="/outbox/${esc(e.name)}.eml">.eml</a>` : ''}</span></header>
  <pre>${esc(e.text)}</pre>
</article>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rapport outbox</title>
<style>body{font:15px/1.4 system-ui,sans-serif;max-width:860px;margin:2rem auto;padding:0 1rem;color:#222}
article{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.75rem 1rem}header span{color:#666;margin-left:.5rem}
pre{white-space:pre-wrap;font:inherit;margin:.5rem 0 0}</style></head>
<body><h1>Outbox</h1><p>${entries.length === 0 ? 'No messages yet. Without SMTP_URL or Twilio settings, every message Rapport sends appears here.' : `${entries.length} message(s), newest first.`}</p>
${items}
</body></html>`;
}
