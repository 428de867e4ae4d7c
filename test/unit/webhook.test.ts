/** Webhook targets: only hosts on the allow-list, never a private or loopback address unless allowed. */
import { checkTarget } from '../../activities/webhook';

const policy = {
  allowHosts: ['hooks.example.com', '127.0.0.1:8443', '10.1.2.3', '[::1]', '::1', '198.18.0.1', '64:ff9b::a00:1'],
  allowPrivate: false,
};

test.each([
  ['https://other.example.com/x', /not on the webhook allow-list/],
  // A host listed alone allows its scheme's port, not any port of it (an admin port, say).
  ['https://hooks.example.com:8443/x', /host hooks\.example\.com:8443 is not on the webhook allow-list/],
  ['https://127.0.0.1:8443/x', /private or loopback address \(127\.0\.0\.1\)/],
  ['https://10.1.2.3/x', /private or loopback address/],
  ['https://[::1]/x', /private or loopback address/],
  ['https://198.18.0.1/x', /private or loopback address/],
  ['https://[64:ff9b::a00:1]/x', /private or loopback address/],
])('%s is refused', async (url, reason) => {
  const r = await checkTarget(new URL(url), policy);
  expect('refused' in r && r.refused).toMatch(reason);
});

test('a host listed alone is called on its own port, however the URL writes it', async () => {
  const open = { ...policy, allowPrivate: true, allowHosts: ['127.0.0.1', '10.9.9.9:8443'] };
  for (const url of ['https://127.0.0.1/x', 'https://127.0.0.1:443/x', 'https://10.9.9.9:8443/x']) {
    expect(await checkTarget(new URL(url), open)).not.toHaveProperty('refused');
  }
  expect(await checkTarget(new URL('https://10.9.9.9/x'), open)).toHaveProperty('refused');
});

test('a private address allowed explicitly is called at the address that was checked', async () => {
  expect(await checkTarget(new URL('https://127.0.0.1:8443/x'), { ...policy, allowPrivate: true })).toEqual({
    address: '127.0.0.1',
    family: 4,
  });
});
