/**
 * Click and open tracking in email: each web link of a message (HTML `href`s, and addresses in the
 * text part) becomes `<public URL>/l/<token>`, a signed redirect that records the click and sends
 * the customer on to the original address; an open pixel, when asked for, is `/o/<token>`. A link
 * marked `data-rapport-track="off"`, a `mailto:` or `tel:` link, and Rapport's own links
 * (unsubscribe) stay as written.
 */
import { LinkifyIt } from 'linkify-it';
import { parse } from 'node-html-parser';

const linkify = new LinkifyIt();

function trackable(url: string, publicUrl: string): boolean {
  return /^https?:\/\//i.test(url) && !url.startsWith(publicUrl);
}

/** The HTML with its links made tracked: `track(url)` gives each its tracked address. */
export function trackHtmlLinks(html: string, publicUrl: string, track: (url: string) => string): string {
  const root = parse(html, { comment: true });
  for (const a of root.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href')!.trim();
    if (a.getAttribute('data-rapport-track') === 'off') {
      a.removeAttribute('data-rapport-track');
      continue;
    }
    if (trackable(href, publicUrl)) a.setAttribute('href', track(href));
  }
  return root.toString();
}

/** The text with each web address in it made tracked. */
export function trackTextLinks(text: string, publicUrl: string, track: (url: string) => string): string {
  const matches = linkify.match(text) ?? [];
  let out = '';
  let last = 0;
  for (const m of matches) {
    // Only what is written as a web address (not a bare domain, which linkify also finds).
    if (!/^https?:\/\//i.test(m.raw) || !trackable(m.url, publicUrl)) continue;
    out += text.slice(last, m.index) + track(m.url);
    last = m.lastIndex;
  }
  return out + text.slice(last);
}

/** The HTML with an invisible 1×1 image at the end of its body: the open pixel. */
export function withOpenPixel(html: string, pixelUrl: string): string {
  const img = `<img src="${pixelUrl}" width="1" height="1" alt="" style="display:none">`;
  return /<\/body>/i.test(html) ? html.replace(/<\/body>/i, `${img}</body>`) : `${html}${img}`;
}
