/** Click tracking's rewriting: only the links change, however loosely the email's HTML is written. */
import { trackHtmlLinks, trackTextLinks, withOpenPixel } from '../../activities/channels/tracking';

const PUBLIC = 'https://rapport.example';
const track = (url: string) => `${PUBLIC}/l/<${url}>`;

test('only href values change: unclosed tags, attributes and everything else stay byte for byte', () => {
  const html =
    '<body bgcolor="#fff"><center><table><tr><td><a href=https://shop.example/x?a=1&amp;b=2>go</td></tr></table>' +
    '<div>unclosed <a title="a>b" class=btn href=\'https://shop.example/y\'>y</a></body>';
  expect(trackHtmlLinks(html, PUBLIC, track)).toBe(
    '<body bgcolor="#fff"><center><table><tr><td><a href="https://rapport.example/l/<https://shop.example/x?a=1&b=2>">go</td></tr></table>' +
      '<div>unclosed <a title="a>b" class=btn href="https://rapport.example/l/<https://shop.example/y>">y</a></body>',
  );
});

test('links marked off, mail and phone links, Rapport’s own and very long ones stay as written', () => {
  const long = `https://shop.example/${'x'.repeat(2100)}`;
  const html = [
    '<a data-rapport-track="off" href="https://shop.example/plain">plain</a>',
    '<a href="mailto:help@shop.example">mail</a>',
    '<a href="tel:+14155550100">call</a>',
    `<a href="${PUBLIC}/u/token">unsubscribe</a>`,
    `<a href="${long}">long</a>`,
  ].join(' ');
  expect(trackHtmlLinks(html, PUBLIC, track)).toBe(html.replace(' data-rapport-track="off"', ''));
});

test('addresses are escaped as a redirect must send them (non-ASCII), in HTML and in text', () => {
  expect(trackHtmlLinks('<a href="https://shop.example/☃">snow</a>', PUBLIC, track)).toBe(
    '<a href="https://rapport.example/l/<https://shop.example/%E2%98%83>">snow</a>',
  );
  expect(
    trackTextLinks('See https://shop.example/☃, or shop.example, or https://rapport.example/u/x.', PUBLIC, track),
  ).toBe(
    'See https://rapport.example/l/<https://shop.example/%E2%98%83>, or shop.example, or https://rapport.example/u/x.',
  );
});

test('the open pixel goes at the end of the body, or at the end', () => {
  expect(withOpenPixel('<html><body><p>x</p></body></html>', `${PUBLIC}/o/t`)).toBe(
    `<html><body><p>x</p><img src="${PUBLIC}/o/t" width="1" height="1" alt="" style="display:none"></body></html>`,
  );
  expect(withOpenPixel('<p>x</p>', `${PUBLIC}/o/t`)).toMatch(/^<p>x<\/p><img /);
});
