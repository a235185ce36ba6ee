import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from '../../test/support/fake-apiserver.js';
import { chooseVersion, DiscoveryError, fetchApiGroup } from './api-discovery.js';

describe('chooseVersion', () => {
  it.each([
    { name: 'preferred version', group: { preferredVersion: 'v1beta1', versions: ['v1', 'v1beta1'] }, expected: 'v1beta1' },
    { name: 'v1 without preference', group: { versions: ['v1beta1', 'v1'] }, expected: 'v1' },
    { name: 'v1beta1 without preference', group: { versions: ['v1alpha1', 'v1beta1'] }, expected: 'v1beta1' },
    { name: 'no known version', group: { versions: ['v1alpha1'] }, expected: undefined },
    { name: 'empty preferred version', group: { preferredVersion: '', versions: ['v1'] }, expected: 'v1' },
  ])('$name', ({ group, expected }) => {
    expect(chooseVersion(group)).toBe(expected);
  });
});

describe('fetchApiGroup', () => {
  let fake: FakeApiServer | undefined;

  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('installed group', async () => {
    fake = await FakeApiServer.start();
    fake.installPeerAuthenticationCrd({ versions: ['v1', 'v1beta1'], preferredVersion: 'v1' });

    await expect(fetchApiGroup(fake.kubeConfig(), 'security.istio.io', 2_000)).resolves.toEqual({ preferredVersion: 'v1', versions: ['v1', 'v1beta1'] });
  });

  it('missing group', async () => {
    fake = await FakeApiServer.start();
    fake.removePeerAuthenticationCrd();

    await expect(fetchApiGroup(fake.kubeConfig(), 'security.istio.io', 2_000)).resolves.toBeUndefined();
  });

  it('server error', async () => {
    fake = await FakeApiServer.start();
    fake.setUnavailable(true);

    const failure = fetchApiGroup(fake.kubeConfig(), 'security.istio.io', 2_000);

    await expect(failure).rejects.toThrow(DiscoveryError);
    await expect(failure).rejects.toMatchObject({ statusCode: 503, message: 'GET /apis/security.istio.io returned HTTP 503' });
  });

  it('bearer token sent', async () => {
    fake = await FakeApiServer.start();

    await fetchApiGroup(fake.kubeConfig(), 'security.istio.io', 2_000);

    expect(fake.requests.at(-1)?.authorization).toBe('Bearer fake-token');
  });
});
