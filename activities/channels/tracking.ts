/**
 * Click and open tracking in email: each web link of a message (HTML `href`s, and addresses in the
 * text part) becomes `<public URL>/l/<token>`, a signed redirect that records the click and sends
 * the customer on to the original address; an open pixel, when asked for, is `/o/<token>`. A link
 * marked `data-rapport-track="off"`, a `mailto:` or `tel:` link, Rapport's own links (unsubscribe)
 * and very long addresses stay as written.
 *
 * Only the `href` values change: the rest of the HTML is left byte for byte as the template made
 * it, however loosely it is written (email HTML often is).
 */
import { LinkifyIt } from 'linkify-it';
import { parse } from 'node-html-parser';

const linkify = new LinkifyIt();

/** Longer addresses are left untracked: their signed token would pass what a link may hold. */
const MAX_TRACKED_URL = 2000;

/** The address as a redirect can send it (non-ASCII characters escaped), or undefined if it is not a web address. */
function trackableUrl(url: string, publicUrl: string): string | undefined {
  if (!/^https?:\/\//i.test(url) || url.startsWith(publicUrl) || url.length > MAX_TRACKED_URL) return undefined;
  try {
    return new URL(url).href;
  } catch {
    return undefined;
  }
}

/** An `<a …>` start tag, quoted attribute values allowed to hold `>`. */
const ANCHOR = /<a\b(?:[^>"']|"[^"]*"|'[^']*')*>/gi;
const HREF = /(\shref\s*=\s*)("[^"]*"|'[^']*'|[^\s>]+)/i;
const TRACK_OFF = /\s+data-rapport-track\s*=\s*(?:"off"|'off'|off)(?=[\s/>])/i;

/** The HTML with its links made tracked: `track(url)` gives each its tracked address. */
export function trackHtmlLinks(html: string, publicUrl: string, track: (url: string) => string): string {
  return html.replace(ANCHOR, (tag) => {
    // The tag alone, parsed to read its attributes as a browser would (entities decoded).
    const a = parse(`${tag}</a>`).querySelector('a');
    if (!a) return tag;
    if (a.getAttribute('data-rapport-track') === 'off') return tag.replace(TRACK_OFF, '');
    const url = trackableUrl(a.getAttribute('href')?.trim() ?? '', publicUrl);
    return url ? tag.replace(HREF, (_m, before: string) => `${before}"${track(url)}"`) : tag;
  });
}

/** The text with each web address in it made tracked. */
export function trackTextLinks(text: string, publicUrl: string, track: (url: string) => string): string {
  const matches = linkify.match(text) ?? [];
  let out = '';
  let last = 0;
  for (const m of matches) {
    // Only what is written as a web address (not a bare domain, which linkify also finds).
    const url = /^https?:\/\//i.test(m.raw) ? trackableUrl(m.url, publicUrl) : undefined;
    if (!url) continue;
    out += text.slice(last, m.index) + track(url);
    last = m.lastIndex;
  }
  return out + text.slice(last);
}

/** The HTML with an invisible 1×1 image at the end of its body: the open pixel. */
export function withOpenPixel(html: string, pixelUrl: string): string {
  const img = `<img src="${pixelUrl}" width="1" height="1" alt="" style="display:none">`;
  return /<\/body>/i.test(html) ? html.replace(/<\/body>/i, `${img}</body>`) : `${html}${img}`;
}
